/**
 * One customer-service conversation on screen: the messages of its
 * channel (`support:conv-<id>`) as a list, each once and in order, and
 * what they say about the conversation (which agent joined, whether it
 * ended). A view for `follow()` (./follow.js).
 *
 * Publications on a conversation channel (`data`):
 *   {type: 'message', role: 'visitor' | 'agent', name, text, at}
 *   {type: 'joined', agent, at}     the agent who took it is here
 *   {type: 'ended', by: 'visitor' | 'agent', name, at}
 * @module
 */

const clock = (ms) => (ms ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '');

/** A conversation's messages, rendered into a `<ul>`. */
export class Transcript {
  /**
   * @param {HTMLUListElement} list where the messages go
   * @param {'visitor' | 'agent'} role whose messages are "mine" (drawn on the right)
   * @param {() => void} changed called after each message or state change
   */
  constructor(list, role, changed = () => {}) {
    this.list = list;
    this.role = role;
    this.changed = () => {};
    this.reset(null);
    this.changed = changed;
  }

  /** Empties the list: a new stream (`epoch`) starts offsets again. */
  reset(epoch) {
    /** The stream the offsets belong to. */
    this.epoch = epoch;
    /** The visitor's name, from their first message, or ''. */
    this.visitor = '';
    /** The name of the agent who joined last, or ''. */
    this.agent = '';
    /** Someone ended the conversation. */
    this.ended = false;
    /** Messages shown. */
    this.count = 0;
    this._seen = new Set();
    this.list.replaceChildren();
    this.changed();
  }

  /** Shows one publication `{data, offset}`, unless its offset was shown. */
  apply(pub) {
    const data = pub?.data;
    if (!data || typeof data !== 'object') return;
    if (pub.offset) {
      if (this._seen.has(pub.offset)) return;
      this._seen.add(pub.offset);
    }
    const text = (value) => (typeof value === 'string' ? value : '');
    if (data.type === 'message' && text(data.text)) {
      const li = document.createElement('li');
      li.className = `msg ${data.role === this.role ? 'mine' : 'theirs'}`;
      li.dataset.role = data.role === 'agent' ? 'agent' : 'visitor';
      if (pub.offset) li.dataset.offset = String(pub.offset);
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = text(data.name) || (data.role === 'agent' ? 'Agent' : 'Visitor');
      const at = document.createElement('span');
      at.className = 'at';
      at.textContent = clock(data.at);
      const body = document.createElement('span');
      body.className = 'text';
      body.textContent = text(data.text);
      li.append(who, at, body);
      if (data.role !== 'agent' && !this.visitor) this.visitor = who.textContent;
      this.count += 1;
      this._append(li);
    } else if (data.type === 'joined' && text(data.agent)) {
      this.agent = text(data.agent);
      this.line(`${this.agent} joined the conversation`, 'joined');
    } else if (data.type === 'ended') {
      this.ended = true;
      const who = data.by === this.role ? 'You' : text(data.name) || (data.by === 'agent' ? 'The agent' : 'The visitor');
      this.line(`${who} ended the conversation`, 'ended');
    } else {
      return;
    }
    this.changed();
  }

  /** A centred line of text (joins, ends, notices). */
  line(text, kind = '') {
    const li = document.createElement('li');
    li.className = `line ${kind}`;
    li.textContent = text;
    this._append(li);
  }

  _append(li) {
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(li);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}
