/**
 * A real headless Chromium for the dashboard's browser tests, driven by
 * playwright-core (which downloads no browser). Which binary: $CLANKER_TEAMS_CHROMIUM,
 * else the system's (Debian's `chromium`, which .ci/run installs), else the one
 * inside the npm package @sparticuz/chromium (a devDependency, so that
 * `npm install && npm test` works where no Chromium is installed; checked to
 * run here, as root too). CLANKER_TEAMS_CHROMIUM=npm forces that one.
 */
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

const SYSTEM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

/** Flags for headless Chromium as root on a machine with no network (see .library env notes): no sandbox, no background traffic. */
export const CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

async function findChromium(): Promise<{ exe: string; args: string[] }> {
  const env = process.env.CLANKER_TEAMS_CHROMIUM;
  if (env && env !== "npm") return { exe: env, args: [] };
  if (!env) for (const p of SYSTEM) if (fs.existsSync(p)) return { exe: p, args: [] };
  try {
    // A browser binary shipped inside an npm package; its default flags that weaken the same-origin policy are dropped.
    const mod = (await import("@sparticuz/chromium" as string)) as { default: { executablePath(): Promise<string>; args: string[] } };
    const exe = await mod.default.executablePath();
    return { exe, args: mod.default.args.filter((a) => !/web-security|single-process|no-zygote|insecure-content|headless/.test(a)) };
  } catch { /* not installed */ }
  throw new Error("the dashboard's browser tests need Chromium: apt-get install chromium (.ci/run does it), or set CLANKER_TEAMS_CHROMIUM to a Chromium binary");
}

/** Starts headless Chromium (playwright gives it a fresh, empty profile dir and removes it on close). */
export async function launchChromium(): Promise<Browser> {
  const { exe, args } = await findChromium();
  return chromium.launch({ executablePath: exe, headless: true, args: [...CHROMIUM_FLAGS, ...args] });
}
