import { EventEmitter } from 'node:events';
import { Router, type Response } from 'express';
import Joi from 'joi';
import type { StatusEvent } from '../../shared/contracts/events-contract';
import { identifier } from '../../shared/contracts/identifiers';
import { validate } from '../../shared/http/validate';

/**
 * The status events of the topic exchange, fanned out to this replica's HTTP
 * listeners: one broker subscription per process (the broker keeps subscriptions
 * for its lifetime), any number of streams.
 */
export class EventHub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly open = new Set<Response>();

  /** Feeds one delivery of the events exchange; anything that is not an event is dropped. */
  receive(content: Buffer): void {
    try {
      const event = JSON.parse(content.toString('utf8')) as StatusEvent;
      if (typeof event?.subject === 'string' && typeof event.status === 'string') this.emitter.emit('event', event);
    } catch {
      /* not JSON: not an event */
    }
  }

  listen(listener: (event: StatusEvent) => void, res: Response): () => void {
    this.emitter.on('event', listener);
    this.open.add(res);
    return () => {
      this.emitter.off('event', listener);
      this.open.delete(res);
    };
  }

  /** Ends every open stream (at shutdown: the server waits for open responses). */
  close(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}

const streamQuery = Joi.object({ problem: identifier(), subject: Joi.string().pattern(/^[a-z_-]{1,40}$/) });

/**
 * GET /events: the status events as Server-Sent Events (`data: <StatusEvent JSON>`), optionally
 * only one problem's (`?problem=`) or one subject's (`?subject=learnuplet`). Notifications, not
 * the record: a client re-reads the documents it shows, and again after a reconnect.
 */
export function eventStreamRoutes(hub: EventHub, keepAliveMs = 15_000): Router {
  const router = Router();
  router.get('/events', (req, res) => {
    const { problem, subject } = validate(streamQuery, req.query, 'query') as { problem?: string; subject?: string };
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write(': uplet status events\n\n');
    const stop = hub.listen((event) => {
      if (problem && event.scope?.problem !== problem) return;
      if (subject && event.subject !== subject) return;
      res.write(`event: status\ndata: ${JSON.stringify(event)}\n\n`);
    }, res);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    res.on('close', () => {
      clearInterval(keepAlive);
      stop();
    });
  });
  return router;
}
