// Digest challenges JsSIP can answer.
//
// A switch may challenge with several algorithms at once, one
// WWW-Authenticate (or Proxy-Authenticate) header each (RFC 8760 section
// 2.4, RFC 7616 section 3.7). JsSIP 3.13 computes MD5 only and reads the
// last of those headers, so with "MD5, SHA-256" (Dialtone's default order)
// it gives up. onlyMD5 removes the other algorithms' challenges from a 401
// or 407 before JsSIP reads it.

const challenge = /^(WWW-Authenticate|Proxy-Authenticate)\s*:(.*)$/i;

// onlyMD5 returns the SIP message text with the non-MD5 digest challenges
// of a 401 or 407 removed when at least one MD5 challenge is left (a
// challenge without algorithm= is MD5); any other message is unchanged.
export function onlyMD5(text) {
  if (!/^SIP\/2\.0 40[17] /.test(text)) {
    return text;
  }
  let end = text.indexOf('\r\n\r\n');
  if (end < 0) {
    end = text.length;
  }
  const head = text.slice(0, end).split('\r\n');
  const isMD5 = (value) => {
    const alg = /algorithm\s*=\s*"?([\w-]+)/i.exec(value);
    return !alg || alg[1].toUpperCase() === 'MD5';
  };
  const challenges = head.filter((l) => challenge.test(l));
  if (challenges.length < 2 || !challenges.some((l) => isMD5(challenge.exec(l)[2]))) {
    return text;
  }
  const kept = head.filter((l) => !challenge.test(l) || isMD5(challenge.exec(l)[2]));
  return kept.join('\r\n') + text.slice(end);
}
