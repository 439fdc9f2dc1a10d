// The money on the dialer page, wired to its DOM: the balance and bundle
// minutes (after sign-in, after each call and each purchase), the price of
// the number being typed (asked once the user pauses), the cost of the
// call so far while it runs, the final charge, the recent calls and buying
// a bundle. The arithmetic and the words are money.js's.
import { bundleMinutes, callCost, chargeText, duration, money, quoteText } from './money.js';

const $ = (sel) => document.querySelector(sel);

// quoteDelay is how long typing must pause before the number is priced:
// one request per pause, not one per key.
export const quoteDelay = 350;
const recentPage = 10;

export class WalletView {
  constructor(report = () => {}) {
    this.report = report; // (type, detail): for tests, on window 'dialer'
    this.session = null;
    this.ui = {
      balance: $('#balance'),
      minutes: $('#bundle-minutes'),
      error: $('#money-error'),
      rate: $('#rate'),
      cost: $('#cost'),
      charge: $('#charge'),
      recent: $('#recent-calls'),
      recentEmpty: $('#recent-empty'),
      more: $('#recent-more'),
      bundle: $('#bundle-code'),
      buy: $('#buy-bundle'),
      bundleStatus: $('#bundle-status'),
    };
    this.quote = null; // the last answer, for the number in quoteFor
    this.quoteFor = '';
    this.pending = null; // AbortController of the quote in flight
    this.timer = 0;
    this.cursor = '';
    this.callQuote = null; // the price of the call in progress
    this.buyKey = '';
    this.ui.more.addEventListener('click', () => this.loadRecent(false));
    this.ui.buy.addEventListener('click', () => this.buy());
    this.ui.bundle.addEventListener('change', () => { this.buyKey = ''; });
  }

  // start shows the account of session: its wallet, calls and bundles.
  start(session, onPick) {
    this.session = session;
    this.onPick = onPick; // (number): a recent call picked to dial again
    this.refresh();
    this.loadRecent(true);
    this.loadCatalog();
  }

  stop() {
    this.session = null;
    clearTimeout(this.timer);
    this.pending?.abort();
    for (const k of ['balance', 'minutes', 'error', 'rate', 'cost', 'charge', 'bundleStatus']) {
      this.ui[k].textContent = '';
    }
    this.ui.recent.replaceChildren();
    this.ui.bundle.replaceChildren();
  }

  fail(what, err) {
    if (err && err.name === 'AbortError') {
      return;
    }
    this.ui.error.textContent = `${what}: ${err.message || err}`;
  }

  async refresh() {
    const s = this.session;
    if (!s) {
      return null;
    }
    try {
      const w = await s.wallet();
      if (s !== this.session) {
        return null;
      }
      this.ui.balance.textContent = money(w.balance, w.currency);
      this.ui.minutes.textContent = String(bundleMinutes(w));
      this.ui.error.textContent = '';
      this.report('wallet', { balance: this.ui.balance.textContent, minutes: bundleMinutes(w) });
      return w;
    } catch (err) {
      this.fail('cannot read the wallet', err);
      return null;
    }
  }

  // typed prices text once typing pauses; an empty or half-typed number
  // shows nothing.
  typed(text) {
    clearTimeout(this.timer);
    const number = text.trim();
    if (number === this.quoteFor && this.quote) {
      return;
    }
    this.pending?.abort();
    this.quote = null;
    this.quoteFor = number;
    this.showQuote(null);
    if (number.replace(/\D/g, '').length < 3) {
      return;
    }
    this.timer = setTimeout(() => this.price(number), quoteDelay);
  }

  async price(number) {
    const s = this.session;
    if (!s) {
      return null;
    }
    const ctl = new AbortController();
    this.pending?.abort();
    this.pending = ctl;
    try {
      const q = await s.quote(number, ctl.signal);
      if (ctl.signal.aborted || number !== this.quoteFor) {
        return null;
      }
      this.quote = q;
      this.showQuote(q);
      return q;
    } catch (err) {
      if (err.name !== 'AbortError' && number === this.quoteFor) {
        this.showQuote(null, err.code === 'invalid_number' ? '' : `no price: ${err.message}`);
      }
      return null;
    }
  }

  showQuote(q, text) {
    this.ui.rate.textContent = text !== undefined ? text : quoteText(q);
    this.ui.rate.classList.toggle('refused', Boolean(q && !q.callable));
    if (q) {
      this.report('quote', { shown: this.ui.rate.textContent, callable: q.callable });
    }
  }

  // calling: a call to number starts; its price is the quote shown, or
  // asked now.
  async calling(number) {
    clearTimeout(this.timer);
    this.ui.cost.textContent = '';
    this.ui.charge.textContent = '';
    this.callQuote = number.trim() === this.quoteFor && this.quote ? this.quote : null;
    if (!this.callQuote) {
      this.quoteFor = number.trim();
      this.callQuote = await this.price(this.quoteFor);
    }
  }

  // tick shows the cost of the call after elapsed seconds connected.
  tick(elapsed) {
    const q = this.callQuote;
    if (!q || !q.callable) {
      return;
    }
    const c = callCost(q, elapsed);
    this.ui.cost.textContent = c.bundle ? `${duration(c.billed)} of bundle minutes` : `${money(c.amount, q.currency)} so far`;
  }

  // ended: the call is over; the wallet and the call's line in its
  // history say what it cost once the switch has settled it.
  async ended(answered) {
    this.ui.cost.textContent = '';
    const s = this.session;
    if (!s) {
      return;
    }
    for (let i = 0; i < 10 && s === this.session; i++) {
      let page;
      try {
        page = await s.history(recentPage);
      } catch (err) {
        this.fail('cannot read recent calls', err);
        return;
      }
      const call = page.items.find((it) => it.call);
      if (call && call.call.state !== 'on hold') {
        if (answered) {
          this.ui.charge.textContent = `this call: ${chargeText(call.call, call.currency)}`;
          this.report('charge', { shown: this.ui.charge.textContent, charge: call.call.charge, state: call.call.state });
        }
        this.showRecent(page, true);
        await this.refresh();
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await this.refresh();
  }

  async loadRecent(first) {
    const s = this.session;
    if (!s) {
      return;
    }
    try {
      const page = await s.history(recentPage, first ? '' : this.cursor);
      if (s === this.session) {
        this.showRecent(page, first);
      }
    } catch (err) {
      this.fail('cannot read recent calls', err);
    }
  }

  showRecent(page, first) {
    if (first) {
      this.ui.recent.replaceChildren();
    }
    for (const it of page.items) {
      if (!it.call) {
        continue; // top-ups, transfers, bundles: the wallet's history, not calls
      }
      const c = it.call;
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'recent-call';
      const what = document.createElement('span');
      what.className = 'what';
      what.textContent = c.number;
      const cost = document.createElement('span');
      cost.className = 'cost';
      cost.textContent = chargeText(c, it.currency);
      const when = document.createElement('small');
      const at = new Date(it.at);
      when.textContent = `${c.duration_seconds > 0 ? duration(c.duration_seconds) : c.disposition || c.state} · ${at.toLocaleString()}`;
      b.append(what, cost, when);
      b.setAttribute('aria-label', `${c.number}, ${when.textContent}, ${cost.textContent}: dial again`);
      b.addEventListener('click', () => this.onPick?.(c.number));
      li.append(b);
      this.ui.recent.append(li);
    }
    this.cursor = page.next_cursor || '';
    this.ui.more.hidden = !this.cursor;
    this.ui.recentEmpty.hidden = this.ui.recent.children.length > 0;
    this.report('recent', { count: this.ui.recent.children.length, first: this.ui.recent.firstElementChild?.textContent || '' });
  }

  async loadCatalog() {
    const s = this.session;
    try {
      const c = await s.bundles();
      if (s !== this.session) {
        return;
      }
      this.ui.bundle.replaceChildren(...c.items.map((b) => new Option(`${b.name}: ${Math.floor(b.seconds / 60)} min for ${money(b.price, b.currency)}`, b.code)));
      this.ui.buy.disabled = c.items.length === 0;
      document.querySelector('#bundles').hidden = c.items.length === 0;
    } catch (err) {
      this.fail('cannot read the bundles on sale', err);
    }
  }

  async buy() {
    const s = this.session;
    const code = this.ui.bundle.value;
    if (!s || !code) {
      return;
    }
    // One key per purchase: a retry after a lost answer buys it once.
    this.buyKey ||= `dialer-${crypto.randomUUID()}`;
    this.ui.buy.disabled = true;
    this.ui.bundleStatus.textContent = 'buying…';
    try {
      const out = await s.buyBundle(code, this.buyKey);
      this.buyKey = '';
      this.ui.bundleStatus.textContent = `bought ${Math.floor(out.seconds / 60)} minutes for ${money(out.price, out.currency)}`;
      await this.refresh();
      this.loadRecent(true);
      this.report('bought', { shown: this.ui.bundleStatus.textContent });
    } catch (err) {
      if (err.status && err.status < 500) {
        this.buyKey = ''; // refused: a new attempt is a new purchase
      }
      this.ui.bundleStatus.textContent = err.code === 'insufficient_funds' ? 'not enough money in the wallet' : `could not buy: ${err.message}`;
      this.report('bought', { shown: this.ui.bundleStatus.textContent, error: err.code });
    } finally {
      this.ui.buy.disabled = false;
    }
  }
}
