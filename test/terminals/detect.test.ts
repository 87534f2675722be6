import { describe, expect, it } from "vitest";
import { adapterFor, createAdapter, detect, detectKind } from "../../src/agents/terminals/detect.js";
import { HeadlessAdapter } from "../../src/agents/terminals/headless.js";
import { Iterm2Adapter } from "../../src/agents/terminals/iterm2.js";
import { socketFromTmuxEnv } from "../../src/agents/terminals/tmux-client.js";
import { TmuxAdapter } from "../../src/agents/terminals/tmux.js";
import { WeztermAdapter } from "../../src/agents/terminals/wezterm.js";
import { ZellijAdapter } from "../../src/agents/terminals/zellij.js";
import * as terminals from "../../src/agents/terminals/index.js";

describe("detectKind (pure)", () => {
  const cases: Array<[string, NodeJS.ProcessEnv, NodeJS.Platform, string]> = [
    ["TMUX", { TMUX: "/tmp/tmux-1/default,1,0", TMUX_PANE: "%1" }, "linux", "tmux"],
    ["ZELLIJ=0", { ZELLIJ: "0" }, "linux", "zellij"],
    ["iTerm2 on macOS", { TERM_PROGRAM: "iTerm.app" }, "darwin", "iterm2"],
    ["iTerm2's variable on Linux (e.g. ssh)", { TERM_PROGRAM: "iTerm.app" }, "linux", "headless"],
    ["WEZTERM_PANE", { WEZTERM_PANE: "3" }, "linux", "wezterm"],
    ["nothing", {}, "linux", "headless"],
    ["tmux inside WezTerm", { TMUX: "/s,1,0", WEZTERM_PANE: "3", TERM_PROGRAM: "tmux" }, "darwin", "tmux"],
    ["Zellij inside iTerm2", { ZELLIJ: "0", TERM_PROGRAM: "iTerm.app" }, "darwin", "zellij"],
    ["iTerm2 over WezTerm's variable", { TERM_PROGRAM: "iTerm.app", WEZTERM_PANE: "1" }, "darwin", "iterm2"],
    ["override", { TMUX: "/s,1,0", CLANKER_TEAMS_TERMINAL: "headless" }, "linux", "headless"],
  ];
  for (const [what, env, platform, kind] of cases) {
    it(`${what} → ${kind}`, () => expect(detectKind(env, platform)).toBe(kind));
  }

  it("rejects an unknown override with the list of choices", () => {
    expect(() => detectKind({ CLANKER_TEAMS_TERMINAL: "kitty" }, "linux")).toThrow(/tmux, zellij, iterm2, wezterm, headless/);
  });
});

describe("detect / createAdapter / adapterFor", () => {
  it("builds the adapter for each kind", () => {
    expect(detect({ env: { TMUX: "/s,1,0", TMUX_PANE: "%0" }, platform: "linux" })).toBeInstanceOf(TmuxAdapter);
    expect(detect({ env: { ZELLIJ: "0" }, platform: "linux" })).toBeInstanceOf(ZellijAdapter);
    expect(detect({ env: { TERM_PROGRAM: "iTerm.app" }, platform: "darwin" })).toBeInstanceOf(Iterm2Adapter);
    expect(detect({ env: { WEZTERM_PANE: "0" }, platform: "linux" })).toBeInstanceOf(WeztermAdapter);
    const headless = detect({ env: {}, platform: "linux", team: "alpha" });
    expect(headless).toBeInstanceOf(HeadlessAdapter);
    expect(headless.attachHint()).toBe("tmux attach -t clanker-alpha");
  });

  it("needs a team name for headless", () => {
    expect(() => detect({ env: {}, platform: "linux" })).toThrow(/team name is required/);
  });

  it("rebuilds an adapter from a stored PaneRef", () => {
    const headless = adapterFor({ kind: "headless", paneId: "%3", session: "clanker-alpha", socket: "/tmp/s" }) as HeadlessAdapter;
    expect(headless.session).toBe("clanker-alpha");
    expect(headless.client.socketPath).toBe("/tmp/s");
    expect(createAdapter("zellij").kind).toBe("zellij");
  });

  it("reads the socket path from $TMUX", () => {
    expect(socketFromTmuxEnv("/tmp/tmux-1000/default,1234,0")).toBe("/tmp/tmux-1000/default");
    expect(socketFromTmuxEnv("/tmp/odd,dir/sock,1234,0")).toBe("/tmp/odd,dir/sock");
    expect(socketFromTmuxEnv(undefined)).toBeUndefined();
  });

  it("exports the public API from index", () => {
    for (const name of ["detect", "detectKind", "createAdapter", "adapterFor", "TmuxAdapter", "HeadlessAdapter", "ZellijAdapter",
      "WeztermAdapter", "Iterm2Adapter", "TerminalError", "shQuote", "appleScriptString", "launcherArgv", "headlessSessionName"]) {
      expect(terminals).toHaveProperty(name);
    }
  });
});
