/**
 * The customer-service queue: what the publications of the shared channel
 * `support:queue` say about each conversation. Pure logic, no DOM and no
 * connection, so the agent console and Node's test runner use it alike.
 *
 * Publications on the queue channel (`data`):
 *   {type: 'open',   conv, visitor, preview, at}  a visitor waits (sent again when it reloads while waiting)
 *   {type: 'taken',  conv, agent, at}             an agent takes the conversation
 *   {type: 'closed', conv, by, at}                the conversation ended
 *
 * Taking is a race that every console settles the same way: the `taken`
 * publication with the lowest offset wins. The hub gives each publication
 * of a channel its own increasing offset, so every console, whatever order
 * it learns them in (live, from history, after a recovery), agrees on the
 * owner; a losing agent drops the conversation.
 * @module
 */

/** The channel every agent console subscribes to. */
export const QUEUE_CHANNEL = 'support:queue';

/** The channel of one conversation. */
export const conversationChannel = (conv) => `support:conv-${conv}`;

/** Conversation ids: what a visitor page makes, and all the queue accepts. */
export const CONVERSATION_ID = /^[a-z0-9]{6,32}$/;

/** A new conversation id: 12 random base-36 characters. */
export function newConversationId(random = (n) => crypto.getRandomValues(new Uint8Array(n))) {
  return Array.from(random(12), (b) => (b % 36).toString(36)).join('');
}

/**
 * One conversation as the queue knows it.
 * @typedef {object} Conversation
 * @property {string} conv the id
 * @property {string} visitor the visitor's name ('' until an `open` is seen)
 * @property {string} preview the first words of the visitor's question
 * @property {number} openedAt when the visitor opened it (ms since the epoch; 0 unknown)
 * @property {{agent: string, offset: number, at: number} | null} owner the winning `taken`
 * @property {boolean} closed an agent or the visitor ended it
 */

/** The queue's state, folded from the queue channel's publications. */
export class SupportQueue {
  constructor() {
    this.reset(null);
  }

  /** Forgets everything: a new stream (`epoch`) starts offsets again. */
  reset(epoch) {
    /** The stream the offsets belong to. */
    this.epoch = epoch;
    /** @type {Map<string, Conversation>} */
    this.conversations = new Map();
    this._seen = new Set();
  }

  /**
   * Applies one publication `{data, offset}`; returns the conversation it
   * changed, or null (seen before, malformed, or changing nothing). Order
   * does not matter: the same publications give the same state.
   */
  apply(pub) {
    const data = pub?.data;
    const offset = Number(pub?.offset) || 0;
    if (!data || typeof data !== 'object' || typeof data.conv !== 'string' || !CONVERSATION_ID.test(data.conv)) {
      return null;
    }
    if (offset) {
      if (this._seen.has(offset)) return null;
      this._seen.add(offset);
    }
    const conv = this._conversation(data.conv);
    const at = Number(data.at) || 0;
    switch (data.type) {
      case 'open':
        if (!conv.visitor && typeof data.visitor === 'string') conv.visitor = data.visitor.slice(0, 64);
        if (!conv.preview && typeof data.preview === 'string') conv.preview = data.preview.slice(0, 200);
        if (at && (!conv.openedAt || at < conv.openedAt)) conv.openedAt = at;
        return conv;
      case 'taken': {
        const agent = typeof data.agent === 'string' ? data.agent.trim().slice(0, 64) : '';
        if (!agent || !offset) return null;
        if (conv.owner && conv.owner.offset <= offset) return null;
        conv.owner = { agent, offset, at };
        return conv;
      }
      case 'closed':
        if (conv.closed) return null;
        conv.closed = true;
        return conv;
      default:
        return null;
    }
  }

  /** Conversations waiting for an agent, the longest waiting first. */
  waiting() {
    return [...this.conversations.values()]
      .filter((c) => !c.owner && !c.closed && c.visitor)
      .sort((a, b) => a.openedAt - b.openedAt || a.conv.localeCompare(b.conv));
  }

  /** Open conversations that `agent` won, the oldest first. */
  ownedBy(agent) {
    return [...this.conversations.values()]
      .filter((c) => !c.closed && c.owner && sameAgent(c.owner.agent, agent))
      .sort((a, b) => a.owner.offset - b.owner.offset);
  }

  /** The conversation `conv`, or undefined. */
  get(conv) {
    return this.conversations.get(conv);
  }

  _conversation(id) {
    let conv = this.conversations.get(id);
    if (!conv) {
      conv = { conv: id, visitor: '', preview: '', openedAt: 0, owner: null, closed: false };
      this.conversations.set(id, conv);
    }
    return conv;
  }
}

/**
 * Whether two agent names are the same agent. In development mode an agent
 * is who its name says (case and surrounding spaces aside); with tokens a
 * deployment would use the connection's user id instead.
 */
export function sameAgent(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.trim().toLowerCase() === b.trim().toLowerCase();
}
