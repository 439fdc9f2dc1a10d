// SDP munging for tests: restrict our audio offer to some codecs
// (RFC 4566 section 5.14 m= line, RFC 3264 section 5.1 offer).

// Static payload types (RFC 3551 section 6) a browser may list without an
// a=rtpmap line.
const staticTypes = {
  0: { name: 'PCMU', rate: 8000 },
  3: { name: 'GSM', rate: 8000 },
  8: { name: 'PCMA', rate: 8000 },
  9: { name: 'G722', rate: 8000 },
  13: { name: 'CN', rate: 8000 },
  18: { name: 'G729', rate: 8000 },
};

// restrictCodecs returns sdp with each audio m= line listing only the
// payload types whose encoding name is in names (case-insensitive), plus
// the telephone-event types (RFC 4733) whose clock rate matches a kept
// codec; the a=rtpmap, a=fmtp and a=rtcp-fb lines of every other payload
// type are removed. A section where no codec would be left is unchanged.
export function restrictCodecs(sdp, names) {
  const want = new Set(names.map((n) => n.trim().toUpperCase()).filter(Boolean));
  if (want.size === 0) {
    return sdp;
  }
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol);
  const out = [];
  for (let i = 0; i < lines.length;) {
    if (!lines[i].startsWith('m=')) {
      out.push(lines[i++]);
      continue;
    }
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith('m=')) {
      end++;
    }
    out.push(...restrictSection(lines.slice(i, end), want));
    i = end;
  }
  return out.join(eol);
}

// restrictSection restricts one media section (its m= line first).
function restrictSection(section, want) {
  const m = section[0].split(' ');
  if (!m[0].startsWith('m=audio') || m.length < 4) {
    return section;
  }
  const types = m.slice(3);
  const maps = {};
  for (const pt of types) {
    if (staticTypes[pt]) {
      maps[pt] = staticTypes[pt];
    }
  }
  for (const line of section) {
    const r = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)/.exec(line);
    if (r) {
      maps[r[1]] = { name: r[2].toUpperCase(), rate: Number(r[3]) };
    }
  }
  const keep = types.filter((pt) => maps[pt] && want.has(maps[pt].name));
  if (keep.length === 0) {
    return section;
  }
  const rates = new Set(keep.map((pt) => maps[pt].rate));
  for (const pt of types) {
    if (maps[pt] && maps[pt].name === 'TELEPHONE-EVENT' && rates.has(maps[pt].rate) && !keep.includes(pt)) {
      keep.push(pt);
    }
  }
  const kept = types.filter((pt) => keep.includes(pt)); // the offer's order
  const dropped = new Set(types.filter((pt) => !keep.includes(pt)));
  return [
    [...m.slice(0, 3), ...kept].join(' '),
    ...section.slice(1).filter((line) => {
      const a = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \t]/.exec(line);
      return !(a && dropped.has(a[1]));
    }),
  ];
}
