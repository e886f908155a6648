/* uplet dashboard, Training view: datasets (profiles), training jobs (trials, Pareto front, best so far),
 * the final report (per-class stats, field importance, data story). Data inserted as text only. */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const COLORS = ['#0b5cad', '#a4161a', '#1e6b34', '#6b4e16', '#6a1b9a', '#00695c', '#c2185b', '#37474f'];
  const fmt = (n, d) => (typeof n === 'number' && isFinite(n) ? Number(n.toFixed(d === undefined ? 3 : d)).toString() : '–');
  const state = { dataset: '', job: '', charts: {}, fastTimer: null, lastJobs: '' };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function selectButton(label, current, onclick, name) {
    return el('button', { type: 'button', class: 'link', 'aria-pressed': current ? 'true' : 'false', 'aria-label': 'Show ' + name, onclick }, label);
  }

  /** Draws the whole view; `api` is the dashboard's authenticated GET. Returns false when this key may not read training. */
  async function draw(api, redraw) {
    let datasets, jobs;
    try {
      [datasets, jobs] = await Promise.all([api('/v1/datasets?limit=1000').then((b) => b.datasets), api('/v1/jobs?limit=100').then((b) => b.jobs)]);
    } catch (err) {
      if (err.status === 403 || err.status === 404) {
        $('training').hidden = true;
        return false;
      }
      throw err;
    }
    $('training').hidden = false;
    if (!state.dataset && datasets.length) state.dataset = datasets[0].dataset_id;
    if (!state.job && jobs.length) state.job = jobs[0].job_id;
    drawDatasets(datasets, redraw);
    drawJobs(jobs, redraw);
    const job = jobs.find((j) => j.job_id === state.job);
    if (job) await drawJob(api, job.job_id);
    else $('job-detail').hidden = true;
    // Trials finish between status events: while the job shown runs, poll it every 2 s.
    if (state.fastTimer) clearTimeout(state.fastTimer);
    state.fastTimer = job && (job.status === 'pending' || job.status === 'running') ? setTimeout(redraw, 2000) : null;
    return true;
  }

  function drawDatasets(datasets, redraw) {
    const body = $('datasets').tBodies[0];
    if (!datasets.length) body.replaceChildren(el('tr', {}, el('td', { colspan: '5' }, 'No dataset of yours yet.')));
    else {
      body.replaceChildren(
        ...datasets.map((d) =>
          el(
            'tr',
            { 'data-dataset': d.dataset_id, 'data-status': d.status },
            el(
              'th',
              { scope: 'row' },
              selectButton(
                d.name,
                d.dataset_id === state.dataset,
                () => {
                  state.dataset = d.dataset_id;
                  redraw();
                },
                'the profile of dataset ' + d.name,
              ),
            ),
            el('td', {}, d.dataset_id),
            el('td', {}, d.status + (d.failure_reason ? ' (' + d.failure_reason + ')' : '')),
            el('td', {}, d.profile ? d.profile.row_count : '–'),
            el('td', {}, d.profile ? d.profile.columns.length : '–'),
          ),
        ),
      );
    }
    const d = datasets.find((x) => x.dataset_id === state.dataset);
    $('profile-title').textContent = d ? 'Profile of ' + d.name + (d.profile ? ' (' + d.profile.row_count + ' rows)' : ' (' + d.status + ')') : 'Profile';
    $('profile').tBodies[0].replaceChildren(
      ...(d && d.profile
        ? d.profile.columns.map((c) =>
            el(
              'tr',
              { 'data-column': c.name },
              el('th', { scope: 'row' }, c.name),
              el('td', {}, c.type),
              el('td', {}, c.missing),
              el('td', {}, c.distinct),
              el('td', {}, summary(c)),
            ),
          )
        : []),
    );
  }

  function summary(c) {
    if (c.type === 'numeric') return 'min ' + fmt(c.min) + ' · mean ' + fmt(c.mean) + ' · max ' + fmt(c.max);
    if (c.top_values)
      return c.top_values
        .slice(0, 3)
        .map((t) => t.value + ' (' + t.count + ')')
        .join(', ');
    if (c.type === 'timestamp') return (c.min || '–') + ' … ' + (c.max || '–');
    return '';
  }

  function drawJobs(jobs, redraw) {
    const body = $('jobs').tBodies[0];
    if (!jobs.length) return body.replaceChildren(el('tr', {}, el('td', { colspan: '6' }, 'No training job yet.')));
    body.replaceChildren(
      ...jobs.map((j) =>
        el(
          'tr',
          { 'data-job': j.job_id, 'data-status': j.status },
          el(
            'th',
            { scope: 'row' },
            selectButton(
              j.job_id,
              j.job_id === state.job,
              () => {
                state.job = j.job_id;
                redraw();
              },
              'job ' + j.job_id,
            ),
          ),
          el('td', {}, j.dataset_id),
          el('td', {}, j.label_column + ' (' + j.task_kind + ')'),
          el('td', {}, j.families.join(', ')),
          el('td', {}, j.metrics.join(', ')),
          el('td', { class: 'status ' + j.status }, j.status + (j.failure_reason ? ' (' + j.failure_reason + ')' : '')),
        ),
      ),
    );
  }

  async function drawJob(api, jobId) {
    const run = await api('/v1/trainer/jobs/' + encodeURIComponent(jobId));
    $('job-detail').hidden = false;
    const p = run.progress;
    $('job-title').textContent = 'Job ' + run.job_id;
    $('job-summary').textContent =
      run.status +
      (run.message ? ' (' + run.message + ')' : '') +
      ' · trials ' +
      p.trials_done +
      '/' +
      p.trials_total +
      (p.trials_failed ? ' (' + p.trials_failed + ' failed)' : '') +
      ' · ' +
      run.model_types.join(', ') +
      ' · metrics ' +
      run.metrics.join(', ');
    const done = run.trials.filter((t) => t.status === 'done' && t.metrics).sort((a, b) => a.index - b.index || a.row - b.row);
    drawScatter(run, done);
    drawBest(run, done);
    drawReport(run.final_model);
  }

  const tick = (v) => fmt(Math.abs(v) < 1e-9 ? 0 : v);
  const value = (v) => (typeof v === 'number' ? fmt(v) : String(v));

  function chart(id, config) {
    if (!window.Chart) return;
    if (state.charts[id]) {
      state.charts[id].data = config.data;
      state.charts[id].options = config.options;
      state.charts[id].update();
      return;
    }
    state.charts[id] = new window.Chart($(id), config);
  }

  function drawScatter(run, done) {
    const [m1, m2] = run.metrics;
    const two = Boolean(m2);
    const families = [...new Set(done.map((t) => t.family))];
    const point = (t, i) => (two ? { x: t.metrics[m1], y: t.metrics[m2] } : { x: i + 1, y: t.metrics[m1] });
    const datasets = families.map((f, k) => ({
      label: f,
      backgroundColor: COLORS[k % COLORS.length],
      borderColor: COLORS[k % COLORS.length],
      pointRadius: 4,
      data: done.map((t, i) => (t.family === f ? point(t, i) : null)).filter(Boolean),
    }));
    if (two && run.pareto_front && run.pareto_front.length) {
      datasets.push({
        label: 'Pareto front',
        type: 'line',
        showLine: true,
        borderColor: '#102a43',
        backgroundColor: '#102a43',
        pointStyle: 'rectRot',
        pointRadius: 6,
        borderDash: [4, 3],
        data: run.pareto_front
          .filter((t) => t.metrics)
          .map((t) => ({ x: t.metrics[m1], y: t.metrics[m2] }))
          .sort((a, b) => a.x - b.x),
      });
    }
    $('trials-chart').setAttribute(
      'aria-label',
      (two ? 'Trials by ' + m1 + ' and ' + m2 : m1 + ' by trial') +
        ': ' +
        done.length +
        ' trials done' +
        (two && run.pareto_front ? ', ' + run.pareto_front.length + ' on the Pareto front' : '') +
        (done.length
          ? '; ' +
            done
              .slice(0, 12)
              .map((t) => t.family + ' ' + fmt(t.metrics[m1]) + (two ? '/' + fmt(t.metrics[m2]) : ''))
              .join(', ')
          : ''),
    );
    chart('trials-chart', {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { title: { display: true, text: two ? m1 : 'trial' }, ticks: { callback: tick } },
          y: { title: { display: true, text: two ? m2 : m1 }, ticks: { callback: tick } },
        },
      },
    });
  }

  function drawBest(run, done) {
    let best = -Infinity;
    const data = done.map((t, i) => {
      if (typeof t.objective === 'number' && t.objective > best) best = t.objective;
      return { x: i + 1, y: isFinite(best) ? best : null };
    });
    $('best-chart').setAttribute('aria-label', 'Best objective so far by trial: ' + data.map((d) => fmt(d.y)).join(', '));
    chart('best-chart', {
      type: 'line',
      data: {
        datasets: [
          {
            label: 'best so far (' + run.metrics[0] + (run.metrics.length > 1 ? ', weighted' : '') + ')',
            data,
            borderColor: '#1e6b34',
            backgroundColor: '#1e6b34',
            stepped: true,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: true,
        scales: {
          x: { type: 'linear', title: { display: true, text: 'trial' }, ticks: { precision: 0 } },
          y: { title: { display: true, text: 'objective' }, ticks: { callback: tick } },
        },
      },
    });
  }

  /** A bar of the given width (%), set through the CSSOM: the page's CSP allows no style attribute. */
  function bar(percent) {
    const b = el('span', { class: 'bar' });
    b.style.width = percent.toFixed(1) + '%';
    return b;
  }

  function drawReport(model) {
    $('report').hidden = !model;
    if (!model) return;
    const r = model.report || {};
    $('report-title').textContent = 'Final model ' + model.model_id + ' (' + model.kind + ', ' + model.family + ')';
    $('heldout').replaceChildren(...Object.entries(r.metrics || {}).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, fmt(v, 4))]));
    // Per-class stats (or the regression row): every column but the field's own names.
    const stats = Array.isArray(r.stats) ? r.stats : [];
    const cols = stats.length ? Object.keys(stats[0]).filter((k) => !['field', 'field_name', 'field_type', 'class'].includes(k)) : [];
    $('stats').tHead.replaceChildren(el('tr', {}, ...cols.map((c) => el('th', { scope: 'col' }, c === 'class_name' ? 'class' : c))));
    $('stats').tBodies[0].replaceChildren(
      ...stats.map((s) =>
        el(
          'tr',
          {},
          ...cols.map((c, i) =>
            i === 0
              ? el('th', { scope: 'row' }, typeof s[c] === 'number' ? fmt(s[c]) : String(s[c]))
              : el('td', {}, typeof s[c] === 'number' ? fmt(s[c]) : String(s[c])),
          ),
        ),
      ),
    );
    // Field importance as bars: the share of the objective each field carries (sums to 1).
    const fi = r.field_importance || {};
    const entries = (Array.isArray(fi) ? fi.map((e) => [e.field, e.importance]) : Object.entries(fi)).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1e-9, ...entries.map((e) => e[1]));
    $('importance').replaceChildren(
      ...entries.map(([field, v]) =>
        el(
          'li',
          { 'data-field': field },
          el('span', { class: 'bar-label' }, field),
          el('span', { class: 'bar-track', role: 'img', 'aria-label': field + ': ' + fmt(v * 100, 1) + ' % of the importance' }, bar((100 * v) / max)),
          el('span', { class: 'bar-value' }, fmt(v * 100, 1) + ' %'),
        ),
      ),
    );
    // The data story: for each outcome, the fields that move it most.
    const stories = Array.isArray(r.data_story) ? r.data_story : r.data_story ? [r.data_story] : [];
    $('story').replaceChildren(
      ...stories.flatMap((s) =>
        (s.outcomes || []).map((o) =>
          el(
            'li',
            {},
            el('strong', {}, (s.name || 'outcome') + ' = ' + o.outcome),
            ' (average ' + fmt(o.avg_case) + ', from ' + fmt(o.bottom_case) + ' to ' + fmt(o.top_case) + '): ',
            (o.causes || [])
              .slice(0, 3)
              .map((c) => c.field + ' ' + value(c.bottom_value) + ' → ' + value(c.top_value) + ' moves it by ' + fmt(c.effect))
              .join('; ') || 'no field moves it',
          ),
        ),
      ),
    );
  }

  window.UpletTraining = { draw };
})();
