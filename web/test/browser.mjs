// What the browser drivers (call.mjs, sipjs.mjs) share: their input and
// output, a run of headless Chromium with a fake microphone whose page
// reports events, and listening to a call's far end with WebAudio.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

// out prints one output event as a JSON line.
export const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// readInput parses the one JSON argument: required names its string
// fields, check throws on anything else wrong. Bad input prints the done
// event and exits 2.
export function readInput(required, check = () => {}) {
  try {
    const opts = JSON.parse(process.argv[2] || '');
    for (const k of required) {
      if (typeof opts[k] !== 'string') {
        throw new Error(`${k} is missing`);
      }
    }
    check(opts);
    return opts;
  } catch (err) {
    out({ event: 'done', ok: false, error: `input: ${err.message}` });
    process.exit(2);
  }
}

// Driver is one run: Chromium on a fresh profile, the events its page
// reports through window.__dialtoneReport (each also passed to onEvent),
// and the end, with a deadline of opts.timeoutMs (default 30 s).
export class Driver {
  constructor(opts, onEvent = () => {}) {
    this.opts = opts;
    this.onEvent = onEvent;
    this.events = [];
    this.waiters = new Set();
    this.profile = mkdtempSync(join(tmpdir(), 'dialtone-chromium-'));
    this.context = null;
    this.timeoutMs = opts.timeoutMs || 30000;
    setTimeout(() => this.finish(false, `timeout after ${this.timeoutMs} ms`), this.timeoutMs).unref();
  }

  // page starts Chromium and returns its page, wired to report events.
  async page() {
    this.context = await launch(this.profile, this.opts);
    const page = this.context.pages()[0] || (await this.context.newPage());
    await page.exposeFunction('__dialtoneReport', (d) => this.report(d));
    page.on('pageerror', (err) => out({ event: 'pageerror', error: String(err.message || err) }));
    if (this.opts.debug) {
      page.on('console', (m) => out({ event: 'console', type: m.type(), text: m.text() }));
    }
    return page;
  }

  report(d) {
    this.events.push(d);
    this.onEvent(d);
    for (const w of this.waiters) {
      if (w.match(d)) {
        this.waiters.delete(w);
        w.resolve(d);
      }
    }
  }

  // waitFor returns the first event reported that matches, waiting up to
  // ms for it.
  waitFor(match, ms, what) {
    const seen = this.events.find(match);
    if (seen) {
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const w = { match, resolve };
      this.waiters.add(w);
      setTimeout(() => {
        if (this.waiters.delete(w)) {
          reject(new Error(`no ${what} within ${ms} ms`));
        }
      }, ms);
    });
  }

  // finish prints the done event, closes Chromium and exits (Node's fetch
  // would keep the process alive): 0 when ok, 1 when not.
  async finish(ok, error) {
    out(error ? { event: 'done', ok, error } : { event: 'done', ok });
    await Promise.race([this.context ? this.context.close().catch(() => {}) : null, sleep(3000)]);
    rmSync(this.profile, { recursive: true, force: true });
    process.exit(ok ? 0 : 1);
  }

  // run runs body, which returns [ok, error], and finishes with its outcome.
  run(body) {
    body().then(([ok, error]) => this.finish(ok, error), (err) => this.finish(false, String(err.message || err)));
  }
}

// launch starts Chromium on a fresh profile directory (the --user-data-dir
// of a persistent context) with fake media devices; opts.wav is the WAV
// the fake microphone loops, opts.chromium the browser's path, opts.spki
// the base64 SHA-256 of a certificate's public key to accept unverified.
async function launch(profile, opts) {
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (opts.wav) {
    args.push(`--use-file-for-fake-audio-capture=${opts.wav}`);
  }
  if (opts.spki) { // trust a test's self-signed wss certificate, and only it
    args.push(`--ignore-certificate-errors-spki-list=${opts.spki}`);
  }
  return chromium.launchPersistentContext(profile, {
    executablePath: opts.chromium || process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
}

// measureTone listens to window.dialer.remoteStream with an AnalyserNode
// while window.dialer.state is `during`: `samples` spectra over durationMs,
// each giving the peak between 100 and 4000 Hz, the level around toneHz
// (the peak when none), the median level of that band and the RMS level.
async function measureTone(page, toneHz, during = 'connected', samples = 6, durationMs = 1500) {
  return page.evaluate(async ({ toneHz, during, samples, durationMs }) => {
    const stream = window.dialer.remoteStream;
    if (!stream) {
      return { error: 'no remote stream' };
    }
    const ctx = new AudioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    source.connect(analyser);
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    const wave = new Float32Array(analyser.fftSize);
    const binHz = ctx.sampleRate / analyser.fftSize;
    const lo = Math.ceil(100 / binHz);
    const hi = Math.floor(4000 / binHz);
    const db = (v) => (Number.isFinite(v) ? Math.max(v, -200) : -200);
    const taken = [];
    await new Promise((r) => setTimeout(r, 250)); // a full FFT window of audio
    for (let i = 0; i < samples && window.dialer.state === during; i++) {
      analyser.getFloatFrequencyData(spectrum);
      analyser.getFloatTimeDomainData(wave);
      let peak = lo;
      for (let k = lo; k <= hi; k++) {
        if (spectrum[k] > spectrum[peak]) {
          peak = k;
        }
      }
      const at = toneHz ? Math.round(toneHz / binHz) : peak;
      let level = -Infinity;
      for (let k = Math.max(lo, at - 2); k <= Math.min(hi, at + 2); k++) {
        level = Math.max(level, spectrum[k]);
      }
      const band = Array.from(spectrum.subarray(lo, hi + 1)).sort((a, b) => a - b);
      const rms = Math.sqrt(wave.reduce((s, v) => s + v * v, 0) / wave.length);
      taken.push({ peakHz: peak * binHz, levelDb: db(level), medianDb: db(band[band.length >> 1]), rmsDb: db(20 * Math.log10(rms)) });
      await new Promise((r) => setTimeout(r, durationMs / samples));
    }
    source.disconnect();
    await ctx.close();
    return { binHz, taken };
  }, { toneHz, during, samples, durationMs });
}

// toneEvent sums the spectra up: median of each value; detected when most
// spectra have their peak within two bins (at least 20 Hz) of toneHz, 20 dB
// over the band's median (without toneHz: any peak 20 dB over the median).
function toneEvent(m, toneHz) {
  if (m.error || m.taken.length === 0) {
    return { event: 'tone', toneHz: toneHz || null, detected: false, samples: 0, error: m.error || 'the call changed state' };
  }
  const med = (k) => {
    const v = m.taken.map((s) => s[k]).sort((a, b) => a - b);
    return Math.round(v[v.length >> 1] * 10) / 10;
  };
  const near = Math.max(2 * m.binHz, 20);
  const hits = m.taken.filter((s) => s.levelDb - s.medianDb >= 20 && (!toneHz || Math.abs(s.peakHz - toneHz) <= near)).length;
  return {
    event: 'tone', peakHz: med('peakHz'), levelDb: med('levelDb'), medianDb: med('medianDb'), rmsDb: med('rmsDb'),
    toneHz: toneHz || null, detected: hits * 2 > m.taken.length, samples: m.taken.length,
  };
}

// listen measures the far end's audio for toneHz while the call is in
// state during (measureTone), prints the tone event with the fields of
// mark added, and returns what went wrong ('' when the tone was heard or
// none was expected). when says when, for the message.
export async function listen(page, toneHz, { during = 'connected', samples = 6, durationMs = 1500, mark = {}, when = 'from the far end' } = {}) {
  const tone = { ...toneEvent(await measureTone(page, toneHz, during, samples, durationMs), toneHz), ...mark };
  out(tone);
  return toneHz && !tone.detected ? `${toneHz} Hz not heard ${when} (peak ${tone.peakHz} Hz)` : '';
}
