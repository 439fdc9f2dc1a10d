// Money on the page: the wallet, the price of a number and the cost of a
// call so far, as text. Amounts come from the API as decimal strings next
// to a currency (dialtone.Amount: the currency's places, more only when
// the amount has them); this module computes with them exactly, in
// BigInt units of 10^-scale, never in floating point.

// Currencies whose minor unit is not two places (ISO 4217); every other
// code has two, as on the switch (dialtone.CurrencyPlaces).
const places = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};

export function currencyPlaces(currency) {
  const p = places[String(currency || '').toUpperCase()];
  return p === undefined ? 2 : p;
}

// parseAmount reads a plain decimal ("0.0125", "-1.00", "500") as
// {units, scale}: the value is units / 10^scale. It throws on anything else.
export function parseAmount(s) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(s));
  if (!m) {
    throw new Error(`not an amount: ${s}`);
  }
  const frac = m[3] || '';
  const units = BigInt(m[2] + frac);
  return { units: m[1] ? -units : units, scale: frac.length };
}

function rescale({ units, scale }, to) {
  return units * 10n ** BigInt(to - scale);
}

// showAmount is units / 10^scale with the currency's places, and more
// (up to scale) only when the amount has them: "0.11", "0.0125".
export function showAmount(units, scale, currency) {
  let min = currencyPlaces(currency);
  let s = scale;
  while (s > min && units % 10n === 0n) {
    units /= 10n;
    s--;
  }
  while (s < min) {
    units *= 10n;
    s++;
  }
  const neg = units < 0n;
  let digits = (neg ? -units : units).toString().padStart(s + 1, '0');
  if (s > 0) {
    digits = `${digits.slice(0, -s)}.${digits.slice(-s)}`;
  }
  return (neg ? '-' : '') + digits;
}

// money is an amount with its currency, the one text of money the switch
// uses (FormatMoney): "4.98 USD".
export function money(amount, currency) {
  return `${amount} ${String(currency || '').toUpperCase()}`;
}

// billedSeconds is what a call connected for elapsed seconds is billed so
// far under increments first/next (a plan's "30/6"): the first increment
// as soon as it is answered, then each next increment as it starts.
export function billedSeconds(elapsed, first, next) {
  const f = Math.max(1, Math.floor(first) || 1);
  const n = Math.max(1, Math.floor(next) || 1);
  const e = Math.max(0, Math.ceil(elapsed));
  if (e <= f) {
    return f;
  }
  return f + Math.ceil((e - f) / n) * n;
}

// The switch rounds call prices up to 4 places (billing.rounding's default).
const priceScale = 4;

// callCost is what a call priced by quote (the API's quote: per_minute,
// connect_fee, first_increment, next_increment, currency) costs after
// elapsed seconds connected: {billed, amount}. A call a bundle pays for
// costs nothing in money; its amount is "0.00" and bundle is true.
export function callCost(quote, elapsed) {
  const billed = billedSeconds(elapsed, quote.first_increment, quote.next_increment);
  const cur = quote.currency;
  if (quote.bundle_covers || quote.free || !quote.per_minute) {
    return { billed, amount: showAmount(0n, 0, cur), bundle: Boolean(quote.bundle_covers) };
  }
  const rate = parseAmount(quote.per_minute);
  const fee = parseAmount(quote.connect_fee || '0');
  // price = fee + rate × billed / 60, rounded up to priceScale places.
  const scale = Math.max(rate.scale, fee.scale, priceScale);
  const num = rescale(rate, scale) * BigInt(billed) + rescale(fee, scale) * 60n;
  const den = 60n * 10n ** BigInt(scale - priceScale);
  const units = (num + den - 1n) / den; // up
  return { billed, amount: showAmount(units, priceScale, cur), bundle: false };
}

// bundleMinutes is the whole minutes left in the wallet's bundles.
export function bundleMinutes(wallet) {
  const secs = (wallet && wallet.bundles || []).reduce((s, b) => s + Math.max(0, Number(b.seconds_left) || 0), 0);
  return Math.floor(secs / 60);
}

// increments is a plan's increments as people read them: "per second",
// "per minute", "30 s, then per 6 s".
function increments(first, next) {
  const unit = (s) => (s === 1 ? 'second' : s === 60 ? 'minute' : `${s} s`);
  if (first === next) {
    return `billed per ${unit(first)}`;
  }
  return `first ${first} s, then per ${unit(next)}`;
}

// quoteText is the rate line shown under the number being typed.
export function quoteText(q) {
  if (!q) {
    return '';
  }
  if (!q.callable) {
    switch (q.reason) {
      case 'blocked':
        return `calls to this number are blocked (${q.blocked_reason})`;
      case 'no_route':
        return 'this destination cannot be called';
      default:
        return 'your plan has no rate for this destination';
    }
  }
  if (q.free) {
    return 'free call';
  }
  let s = `${money(q.per_minute, q.currency)}/min`;
  if (q.connect_fee) {
    s += ` + ${money(q.connect_fee, q.currency)} to connect`;
  }
  s += ` · ${increments(q.first_increment, q.next_increment)}`;
  if (q.bundle_covers) {
    s += ` · bundle minutes apply (${Math.floor(q.bundle_seconds_left / 60)} min left)`;
  }
  return s;
}

// chargeText is what a call of the wallet history cost.
export function chargeText(call, currency) {
  if (!call) {
    return '';
  }
  if (call.state === 'on hold') {
    return 'in progress';
  }
  if (call.state === 'charged') {
    return money(call.charge, currency);
  }
  return call.billed_seconds > 0 ? 'paid by bundle' : 'not charged';
}

// duration is seconds as m:ss.
export function duration(s) {
  const n = Math.max(0, Math.floor(Number(s) || 0));
  return `${Math.floor(n / 60)}:${String(n % 60).padStart(2, '0')}`;
}
