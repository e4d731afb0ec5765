/**
 * Ends every connection Node's own `fetch` holds (its global dispatcher's sockets), so requests still
 * in flight fail at once instead of keeping the process alive. For a command that is stopping: a
 * change-feed long-poll whose abort Node 20 lost (see `untilAborted` in serve/live.ts) would
 * otherwise hold the process until the database answers it. `fetch` fails after this: call it last.
 */
export async function closeHttpConnections(): Promise<void> {
  // Where undici (Node's fetch) keeps the dispatcher every fetch uses, shared across its copies.
  const dispatcher = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')] as
    { destroy?: () => Promise<void> } | undefined;
  if (typeof dispatcher?.destroy !== 'function') return;
  await dispatcher.destroy().catch(() => {});
}
