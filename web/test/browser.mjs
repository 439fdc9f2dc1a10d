// Helpers the browser drivers share: start headless Chromium with a fake
// microphone, and listen to a call's far end with WebAudio.
import { chromium } from 'playwright-core';

// launch starts Chromium on a fresh profile directory (the --user-data-dir
// of a persistent context) with fake media devices; opts.wav is the WAV
// the fake microphone loops, opts.chromium the browser's path.
export async function launch(profile, opts) {
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (opts.wav) {
    args.push(`--use-file-for-fake-audio-capture=${opts.wav}`);
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
export async function measureTone(page, toneHz, during = 'connected', samples = 6, durationMs = 1500) {
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
export function toneEvent(m, toneHz) {
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
