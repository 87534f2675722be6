/**
 * The dashboard's door: an access token (in the printed URL, then an HttpOnly
 * SameSite=Strict cookie), a CSRF token for every POST, a Host check against
 * DNS rebinding, and headers that forbid everything the page does not need
 * (a strict Content-Security-Policy with Trusted Types: no inline script, no
 * string-to-HTML sinks, no framing, no CORS).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** A fresh random secret (192 bits, URL-safe). */
export function newSecret(): string {
  return randomBytes(24).toString("base64url");
}

/** Constant-time string equality (a wrong token takes as long to refuse as a nearly right one). */
export function sameSecret(given: string | undefined, secret: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Cookies are not told apart by port: the name carries it, so two dashboards on one host keep their own. */
export function cookieName(port: number): string {
  return `clanker_dash_${port}`;
}

/** The Set-Cookie value after a visit with the right token: session-only, HttpOnly, SameSite=Strict. */
export function authCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

/** One cookie's value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The Content-Security-Policy of every response: scripts, styles and
 * connections only from this origin; no inline code; Trusted Types with no
 * policy, so assigning a string to innerHTML (or any HTML sink) throws.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

/** Headers on every response, the 401s included. No Access-Control-* header ever: no CORS. */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader("Content-Security-Policy", CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  res.setHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=(), clipboard-read=()");
  res.setHeader("Cache-Control", "no-store");
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** True when the server listens on loopback only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * On loopback, the Host header must name loopback and our port: a page on
 * another site that rebinds its DNS name to 127.0.0.1 sends its own name.
 * (With an explicit --host the token alone guards.)
 */
export function hostAllowed(req: IncomingMessage, bind: string, port: number): boolean {
  if (!isLoopback(bind)) return true;
  const h = req.headers.host;
  if (!h) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h.toLowerCase());
  if (!m) return false;
  return isLoopback(m[1]!) && Number(m[2] ?? 80) === port;
}
