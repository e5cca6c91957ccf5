/**
 * Keeps a view of one channel — a conversation's transcript, the queue —
 * from its history and its live publications, across reloads and
 * reconnects: the customer-service pages' one way to read a channel.
 *
 * On the first subscribe, and whenever the client could not recover what
 * it missed, the view is filled from the channel's history (a new epoch
 * resets it first); live publications that arrive meanwhile wait and follow
 * in offset order. After a recovery that worked, the missed publications
 * simply arrive as live ones.
 * @module
 */

/**
 * What `follow` feeds.
 * @typedef {object} ChannelView
 * @property {string | null} epoch the stream the view's offsets belong to
 * @property {(epoch: string) => void} reset forget everything, for a new stream
 * @property {(pub: {data: any, offset?: number, info?: object}) => void} apply one publication; must ignore offsets it saw
 */

/**
 * Follows `sub` into `view`. `loaded(ctx)` runs after each (re)subscribe
 * once the view is up to date; `failed(error)` when the history could not
 * be read. Returns nothing; subscribe `sub` afterwards.
 * @param {import('/pushwire.js').Subscription} sub
 * @param {ChannelView} view
 * @param {{limit?: number, loaded?: (ctx: object) => void, failed?: (error: Error) => void}} hooks
 */
export function follow(sub, view, { limit = 100, loaded = () => {}, failed = () => {} } = {}) {
  let loading = true;
  const early = [];
  sub.on('publication', (ctx) => {
    if (loading) early.push(ctx);
    else view.apply(ctx);
  });
  sub.on('subscribed', async (ctx) => {
    if (!(ctx.wasRecovering && ctx.recovered)) {
      loading = true;
      try {
        const history = await sub.history({ limit, reverse: true });
        if (history.epoch !== view.epoch) view.reset(history.epoch);
        for (const pub of history.publications.reverse()) view.apply(pub);
      } catch (error) {
        failed(error);
      }
      loading = false;
      for (const pub of early.splice(0).sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0))) view.apply(pub);
    }
    loaded(ctx);
  });
}
