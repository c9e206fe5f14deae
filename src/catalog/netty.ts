/**
 * URI decoding exactly as Flink's REST server does it, with the Netty QueryStringDecoder that
 * Flink shades (RouterHandler builds one per request). The catalog splits paths with it, and the
 * gateway reads query strings with it, so that the record and the authorization see the same
 * parameters as Flink's handlers — a gateway that read `?x=;mode=cancel&mode=stop` as WHATWG does
 * (one `mode`, `stop`) would record a stop while Flink, for which `;` separates too, cancels.
 */

/**
 * Netty's QueryStringDecoder.decodeComponent: runs of `%XX` are decoded as UTF-8 (invalid bytes
 * become U+FFFD), other characters are kept; `+` becomes a space if `plusIsSpace`. Returns null
 * where Netty throws (a `%` not followed by two hex digits).
 */
export function decodeComponent(s: string, plusIsSpace: boolean): string | null {
  let out = '';
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      const bytes: number[] = [];
      while (i < n && s.charCodeAt(i) === 37) {
        if (i + 3 > n) return null;
        const hi = hexValue(s.charCodeAt(i + 1));
        const lo = hexValue(s.charCodeAt(i + 2));
        if (hi < 0 || lo < 0) return null;
        bytes.push(hi * 16 + lo);
        i += 3;
      }
      out += Buffer.from(bytes).toString('utf8');
    } else {
      out += c === 43 /* + */ && plusIsSpace ? ' ' : s[i];
      i++;
    }
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** A query string as Netty decodes it: names in first-seen order, each with all its values. */
export interface DecodedQuery {
  params: Map<string, string[]>;
  /** Whether a raw `;` separated parameters (Netty splits on it; WHATWG and most proxies do not). */
  semicolon: boolean;
}

/**
 * QueryStringDecoder.decodeParams (semicolons are separators, the default): `&` and `;` end a
 * parameter, the first `=` ends its name, a name without `=` has the value `""`, empty names are
 * skipped, `#` ends the query, names and values are decoded with `+` as space. `raw` is the part
 * after `?` (a leading `?` is skipped, as Netty does). Returns null for a bad `%` escape, where
 * Netty throws and Flink answers no handler.
 */
export function decodeQuery(raw: string): DecodedQuery | null {
  const params = new Map<string, string[]>();
  let semicolon = false;
  const len = raw.length;
  let from = 0;
  if (len > 0 && raw.charCodeAt(0) === 63 /* ? */) from = 1;
  let nameStart = from;
  let valueStart = -1;
  let i = from;
  const add = (end: number): boolean => {
    if (nameStart >= end) return true;
    let vs = valueStart;
    if (vs <= nameStart) vs = end + 1;
    const name = decodeComponent(raw.slice(nameStart, vs - 1), true);
    const value = vs <= end ? decodeComponent(raw.slice(vs, end), true) : '';
    if (name === null || value === null) return false;
    const list = params.get(name);
    if (list === undefined) params.set(name, [value]);
    else list.push(value);
    return true;
  };
  for (; i < len; i++) {
    const c = raw.charCodeAt(i);
    if (c === 61 /* = */) {
      if (nameStart === i) nameStart = i + 1;
      else if (valueStart < nameStart) valueStart = i + 1;
    } else if (c === 59 /* ; */ || c === 38 /* & */) {
      if (c === 59) semicolon = true;
      if (!add(i)) return null;
      nameStart = i + 1;
    } else if (c === 35 /* # */) {
      break;
    }
  }
  if (!add(i)) return null;
  return { params, semicolon };
}
