/**
 * pushwire.js: a small event emitter.
 * Part of the client; applications import `pushwire.js`, which re-exports
 * what they need.
 * @module
 */

// ---------------------------------------------------------------------------
// Events

/** A small event emitter (`on`, `once`, `off`, `emit`). */
export class Emitter {
  constructor() {
    /** @type {Map<string, Function[]>} */
    this._listeners = new Map();
  }

  /** Calls `listener` on each `event`. */
  on(event, listener) {
    const list = this._listeners.get(event) || [];
    list.push(listener);
    this._listeners.set(event, list);
    return this;
  }

  /** Calls `listener` on the next `event` only. */
  once(event, listener) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  /** Removes `listener` (or, without it, every listener of `event`). */
  off(event, listener) {
    if (!listener) {
      this._listeners.delete(event);
      return this;
    }
    const list = this._listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === listener || l.listener === listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Removes every listener of `event`, or of all events. */
  removeAllListeners(event) {
    if (event === undefined) this._listeners.clear();
    else this._listeners.delete(event);
    return this;
  }

  /**
   * Calls each listener of `event` with `ctx`. A listener that throws does
   * not stop the others nor the client: its error is rethrown on its own
   * turn, where the page's error handler sees it.
   */
  emit(event, ctx) {
    const list = this._listeners.get(event);
    if (!list) return false;
    for (const listener of [...list]) {
      try {
        listener(ctx);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
    return list.length > 0;
  }
}
