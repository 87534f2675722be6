/**
 * Look-alike names: a compact version of Unicode's confusable "skeleton"
 * (UTS #39, section 4) for the characters that matter in agent names, case-folded.
 * Two names with the same skeleton look the same to a person reading
 * "From team-lead". Covered (docs/storage.md, "Names"): compatibility forms
 * (fullwidth, mathematical, circled letters, ligatures: NFKD), the Cyrillic,
 * Greek and Armenian letters that look like Latin ones, dotless i/j and other
 * Latin variants, 0/o, 1/I/l/|, dash look-alikes, and rn/m, vv/w, cl/d.
 */

// Pairs "look-alike → what it looks like", in both cases where both exist.
const PAIRS: string =
  // Cyrillic
  "АA ВB ЕE ЅS Іl ЈJ КK МM НH ОO РP СC ТT ХX ҮY ԚQ ԜW Ӏl " +
  "аa еe оo рp сc уy хx ѕs іi јj һh ԁd ԛq ԝw ӏl үy ѵv " +
  // Greek
  "ΑA ΒB ΕE ΖZ ΗH Ιl ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX ϹC ͿJ " +
  "αa οo νv ρp ιi κk υu ϲc ϳj γy " +
  // Armenian
  "ՍU ՕO օo սu հh ոn ցg զq " +
  // Latin variants and ASCII look-alikes (I, 1 and | look like l; 0 like o)
  "ıi ȷj ɑa ɡg ɩi ǀl Il 1l |l 0o";

const MAP = new Map<string, string>();
for (const pair of PAIRS.split(" ")) if (pair) MAP.set(pair[0]!, pair.slice(1));
// Dashes that look like '-' (U+2010–U+2015, U+2043, U+2212, U+02D7, U+058A, U+30FC).
for (const ch of "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u02d7\u058a\u30fc") MAP.set(ch, "-");

const mapChars = (s: string): string => Array.from(s, (ch) => MAP.get(ch) ?? ch).join("");

/** The skeleton of a name: equal skeletons mean the names look alike (case ignored). */
export function skeleton(name: string): string {
  const folded = mapChars(mapChars(name.normalize("NFKD")).toLowerCase());
  // Letter pairs that read as one letter; mapped the way UTS #39 does (m → rn), on both names alike.
  return folded.replace(/m/g, "rn").replace(/w/g, "vv").replace(/d/g, "cl").normalize("NFD");
}

/** Characters of `name` that look like other ones, e.g. `U+0435 looks like "e"` (for error messages). */
export function lookAlikes(name: string): string[] {
  const out: string[] = [];
  for (const ch of new Set(Array.from(name.normalize("NFKD")))) {
    const like = MAP.get(ch) ?? MAP.get(ch.toLowerCase());
    if (like === undefined || like === ch) continue;
    const cp = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
    out.push(`${ch.charCodeAt(0) < 0x80 ? JSON.stringify(ch) : cp} looks like ${JSON.stringify(like)}`);
  }
  return out;
}
