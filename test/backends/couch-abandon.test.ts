import { getEventListeners } from 'node:events';

import { expect } from 'chai';

import { unlessAbandoned } from '../../plugins/couchdb/src/client.js';

/**
 * A request whose signal aborted is given up when it does not end by itself: undici's fetch can
 * leave reading a body waiting forever after an abort (nodejs/undici#4232), and a watcher waiting
 * on it stopped handling runs while its heartbeat kept its lease.
 */
describe('couchdb client: a request that does not end after its abort', () => {
  it('is given up once its signal aborted and the grace is over', async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => {});
    const given = unlessAbandoned(never, controller.signal, 50).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    controller.abort();
    expect(await given).to.equal('the request did not end after it was aborted');
  });

  it('an answer that comes is returned, and leaves no listener on the signal', async () => {
    const controller = new AbortController();
    expect(await unlessAbandoned(Promise.resolve('rows'), controller.signal, 50)).to.equal('rows');
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
    const failed = await unlessAbandoned(Promise.reject(new Error('HTTP 500')), controller.signal, 50).catch(
      (error: Error) => error.message,
    );
    expect(failed).to.equal('HTTP 500');
  });

  it('an answer that ends within the grace after the abort is still returned', async () => {
    const controller = new AbortController();
    const late = new Promise<string>((resolve) => setTimeout(() => resolve('late rows'), 20));
    controller.abort();
    expect(await unlessAbandoned(late, controller.signal, 500)).to.equal('late rows');
  });
});
