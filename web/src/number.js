// Phone numbers as the user types them (libphonenumber-js).
import { AsYouType, getCountries, getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js';

// formatTyped formats a number being typed in the country's style; text
// with anything but digits, +, spaces, dashes, dots and brackets (a
// service code such as *123#) is left alone.
export function formatTyped(text, country) {
  if (!/^[+\d\s().-]*$/.test(text) || !/\d/.test(text)) {
    return text;
  }
  return new AsYouType(country).input(text);
}

// dialString is the user part of the Request-URI for what was typed: the
// E.164 form (+ and digits) when the number is possible in the country,
// else the digits, + * and # as typed (the switch normalizes them in the
// account's country and refuses what is not a number).
export function dialString(text, country) {
  const raw = text.replace(/[^\d+*#]/g, '');
  if (/^\+?\d+$/.test(raw)) {
    const n = parsePhoneNumberFromString(raw, country);
    if (n && n.isPossible()) {
      return n.number;
    }
  }
  return raw;
}

// countries lists every country libphonenumber-js knows as
// {code, label}, label being the name in the browser's language and the
// calling code, sorted by label.
export function countries(locale) {
  let names = null;
  try {
    names = new Intl.DisplayNames([locale], { type: 'region' });
  } catch {
    // old browser: codes only
  }
  return getCountries()
    .map((code) => ({ code, label: `${(names && names.of(code)) || code} (+${getCountryCallingCode(code)})` }))
    .sort((a, b) => a.label.localeCompare(b.label));
}
