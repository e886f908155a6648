/* uplet dashboard: read-only, over the orchestrator's own API. No framework; Chart.js for the curves.
 * Data is always inserted as text (textContent), never as HTML. */
'use strict';
(function () {
  const KEY = 'uplet.apiKey';
  const params = new URLSearchParams(location.search);
  const POLL_MS = Math.max(250, Number(params.get('poll')) || 3000);
  const $ = (id) => document.getElementById(id);
  const SYMBOL = { done: '✓', pending: '▶', todo: '·', waiting: '…', failed: '✗', canceled: '–' };
  const COLORS = ['#0b5cad', '#a4161a', '#1e6b34', '#6b4e16', '#6a1b9a', '#00695c', '#c2185b', '#37474f'];
  let selected = decodeURIComponent((location.hash.match(/problem=([^&]+)/) || [])[1] || '');
  let timer = null;
  let stream = null; // the open GET /events reader, when the event stream is live
  let pending = null;
  let listening = false;
  let chart = null;
  let lastKeys = '';

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path) {
    const res = await fetch(path, { headers: { 'X-API-Key': sessionStorage.getItem(KEY) || '' } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok)
      throw new ApiError(res.status, body && body.error ? body.error.code : 'HTTP_' + res.status, body && body.error ? body.error.message : res.statusText);
    return body;
  }

  async function all(collection, query) {
    const plural = collection === 'data' ? 'datas' : collection + 's';
    const out = [];
    for (let offset = 0; ;) {
      const page = await api('/' + collection + '?limit=1000&offset=' + offset + (query ? '&' + query : ''));
      out.push(...page[plural]);
      if (page.next_offset === null || out.length >= 5000) return out;
      offset = page.next_offset;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const fmt = (n) => (n === null || n === undefined ? '–' : Number(n).toFixed(3));
  const when = (d) => (d ? new Date(d).toLocaleString() : '–');

  function showLogin(message) {
    stop();
    listening = false;
    $('login').hidden = false;
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login-error').textContent = message || '';
    $('live').textContent = '';
  }

  async function signIn(key) {
    sessionStorage.setItem(KEY, key);
    try {
      await api('/problem?limit=1');
    } catch (err) {
      sessionStorage.removeItem(KEY);
      return showLogin(
        err.status === 401 ? 'That key was refused (UNAUTHENTICATED): check it and try again.' : 'Could not reach the orchestrator: ' + err.message,
      );
    }
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    refresh();
    listening = true;
    listen();
  }

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.cancel().catch(() => undefined);
    stream = null;
  }

  /** Follows GET /events (read with fetch, so the key travels as a header): each status change redraws soon after. */
  async function listen() {
    try {
      const res = await fetch('/events', { headers: { 'X-API-Key': sessionStorage.getItem(KEY) || '', Accept: 'text/event-stream' } });
      if (!res.ok || !res.body) throw new Error('no stream (' + res.status + ')');
      const reader = res.body.getReader();
      stream = reader;
      document.body.dataset.stream = 'open';
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop();
        if (blocks.some((b) => /^data: /m.test(b))) soon();
      }
    } catch (_) {
      /* the stream is optional: polling carries on */
    }
    stream = null;
    document.body.dataset.stream = 'closed';
    if (listening)
      setTimeout(() => {
        if (listening && !stream) listen();
      }, 2000);
  }

  /** Several events in a burst make one redraw. */
  function soon() {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      refresh();
    }, 150);
  }

  async function refresh() {
    if (timer) clearTimeout(timer);
    timer = null;
    try {
      const trainingRedraw = () => refresh();
      await Promise.all([draw(), window.UpletTraining ? window.UpletTraining.draw(api, trainingRedraw) : null]);
      $('live').textContent = (stream ? 'Live (events)' : 'Live (polling)') + ' · updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      if (err.status === 401) return showLogin('Your key is no longer accepted: sign in again.');
      $('live').textContent = 'Update failed (' + (err.code || err.message) + '); retrying';
    }
    // With the event stream open, polling is only a safety net.
    timer = setTimeout(refresh, stream ? Math.max(POLL_MS, 30000) : POLL_MS);
  }

  async function draw() {
    const problems = await all('problem');
    if (!selected && problems.length) selected = problems[0].uuid;
    drawProblemList(problems);
    const problem = problems.find((p) => p.uuid === selected);
    if (!problem) return;
    const q = 'problem=' + encodeURIComponent(problem.uuid);
    const [detail, algos, uplets, board, preds] = await Promise.all([
      api('/problem/' + encodeURIComponent(problem.uuid)),
      all('algo', q),
      all('learnuplet', q),
      api('/problem/' + encodeURIComponent(problem.uuid) + '/leaderboard'),
      all('preduplet', q),
    ]);
    $('problem-title').textContent = 'Problem ' + problem.uuid;
    $('problem-summary').textContent =
      algos.length +
      ' algos · ' +
      detail.minibatches +
      ' minibatches of ' +
      problem.size_train_dataset +
      ' data · ' +
      problem.test_dataset.length +
      ' test data · ' +
      (problem.metric_direction === 'lower' ? 'lower' : 'higher') +
      ' perf is better' +
      (detail.train_data_waiting.length ? ' · ' + detail.train_data_waiting.length + ' data waiting for a full minibatch' : '') +
      (problem.timestamp_canceled ? ' · canceled' : '') +
      ((detail.waiting_for || []).length ? ' · ' + [...new Set(detail.waiting_for.map((w) => w.message))].join('; ') : '');
    const chains = algos.map((a) => ({ algo: a, links: uplets.filter((l) => l.algo === a.uuid).sort((x, y) => x.rank - y.rank) }));
    drawChains(chains);
    drawBoard(board.leaderboard);
    drawCurves(chains);
    drawPredictions(preds);
    drawSites();
  }

  function drawProblemList(problems) {
    const list = $('problem-list');
    const keys = problems.map((p) => p.uuid).join(',') + '|' + selected;
    if (keys === lastKeys) return;
    lastKeys = keys;
    list.replaceChildren(
      ...problems.map((p) =>
        el(
          'li',
          {},
          el(
            'button',
            {
              type: 'button',
              'aria-current': p.uuid === selected ? 'true' : 'false',
              onclick: () => {
                selected = p.uuid;
                location.hash = 'problem=' + encodeURIComponent(p.uuid);
                lastKeys = '';
                refresh();
              },
            },
            p.uuid,
          ),
        ),
      ),
    );
  }

  function drawChains(chains) {
    $('chains').replaceChildren(
      ...(chains.length
        ? chains.map(({ algo, links }) => {
            const done = links.filter((l) => l.status === 'done');
            const perfs = done.map((l) => l.perf);
            return el(
              'div',
              { class: 'chain', 'data-algo': algo.uuid },
              el('h3', {}, algo.name, el('span', { class: 'best' }, ' (' + algo.uuid + ')')),
              el(
                'ol',
                { class: 'strip', 'aria-label': 'Ranks of ' + algo.name },
                ...links.map((l) =>
                  el(
                    'li',
                    {
                      class: 'cell ' + l.status,
                      'data-rank': l.rank,
                      'data-status': l.status,
                      tabindex: '0',
                      title:
                        'rank ' +
                        l.rank +
                        ': ' +
                        l.status +
                        (l.perf !== null ? ', perf ' + fmt(l.perf) : '') +
                        (l.site ? ', site ' + l.site : '') +
                        (l.worker ? ', on ' + l.worker : ''),
                      'aria-label':
                        'rank ' +
                        l.rank +
                        ': ' +
                        l.status +
                        (l.perf !== null ? ', perf ' + fmt(l.perf) : '') +
                        (l.site && l.site !== 'default' ? ', site ' + l.site : ''),
                    },
                    SYMBOL[l.status] || '?',
                  ),
                ),
              ),
              el('span', { class: 'best' }, done.length + '/' + links.length + ' done · best ' + fmt(perfs.length ? Math.max(...perfs) : null)),
            );
          })
        : [el('p', {}, 'No algo posted yet.')]),
    );
  }

  function drawBoard(rows) {
    $('leaderboard').tBodies[0].replaceChildren(
      ...rows.map((r, i) =>
        el(
          'tr',
          { 'data-algo': r.algo },
          el('td', {}, i + 1),
          el('th', { scope: 'row' }, r.name),
          el('td', {}, r.owner),
          el('td', {}, fmt(r.best_perf)),
          el('td', {}, r.rank === null ? '–' : r.rank),
          el('td', {}, (r.by_status.done || 0) + '/' + r.ranks),
        ),
      ),
    );
  }

  function drawCurves(chains) {
    if (!window.Chart) return;
    const maxRank = Math.max(0, ...chains.map((c) => c.links.length));
    const labels = Array.from({ length: maxRank }, (_, i) => String(i));
    const datasets = chains.map((c, i) => ({
      label: c.algo.name,
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length],
      spanGaps: true,
      tension: 0.15,
      data: labels.map((_, r) => {
        const l = c.links[r];
        return l && l.status === 'done' ? l.perf : null;
      }),
    }));
    $('curve').setAttribute(
      'aria-label',
      'Perf by rank: ' +
        chains
          .map(
            (c) =>
              c.algo.name +
              ' ' +
              c.links
                .filter((l) => l.status === 'done')
                .map((l) => fmt(l.perf))
                .join(', '),
          )
          .join('; '),
    );
    if (!chart) {
      chart = new window.Chart($('curve'), {
        type: 'line',
        data: { labels, datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { title: { display: true, text: 'rank' } }, y: { title: { display: true, text: 'perf' } } },
        },
      });
    } else {
      chart.data.labels = labels;
      chart.data.datasets = datasets;
      chart.update();
    }
  }

  function drawPredictions(preds) {
    const body = $('predictions').tBodies[0];
    if (!preds.length) return body.replaceChildren(el('tr', {}, el('td', { colspan: '5' }, 'No prediction requested yet.')));
    body.replaceChildren(
      ...preds.map((p) =>
        el(
          'tr',
          { 'data-status': p.status },
          el('td', {}, p.uuid),
          el('td', {}, p.data),
          el('td', {}, p.status + (p.failure_reason ? ' (' + p.failure_reason + ')' : '')),
          el('td', {}, p.algo),
          el('td', {}, when(p.timestamp_request)),
        ),
      ),
    );
  }

  /** Sites appear when the orchestrator serves GET /sites (a newer API); otherwise the card stays hidden. */
  let sitesApi = 'unknown';
  async function drawSites() {
    if (sitesApi === 'absent') return;
    try {
      const body = await api('/sites');
      const sites = body.sites || [];
      $('sites').replaceChildren(
        ...sites.map((s) => {
          const agents = s.live_agents || [];
          return el(
            'li',
            { 'data-site': s.name },
            s.name +
              ' · ' +
              (agents.length
                ? agents.length + ' live agent' + (agents.length > 1 ? 's' : '') + ' (' + agents.map((a) => a.name).join(', ') + ')'
                : 'no live agent: its ranks wait'),
          );
        }),
      );
      $('sites-card').hidden = false;
      sitesApi = 'present';
    } catch (err) {
      $('sites-card').hidden = true;
      if (err.status === 404) sitesApi = 'absent'; // this orchestrator has no sites API: stop asking
    }
  }

  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn($('api-key').value.trim());
    $('api-key').value = '';
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showLogin('Signed out.');
  });
  if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
  else showLogin('');
})();
