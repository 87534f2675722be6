import { afterAll, describe, expect, it } from "vitest";
import { callTool, getTool, tools, toolsFor } from "../../src/tools/table.js";
import { jsonSchema, parseArgs } from "../../src/tools/define.js";
import { TeamsError } from "../../src/errors.js";
import { cleanupTemp, teamWith, world } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

const CORE = ["team_create", "team_delete", "read_config", "task_create", "task_list", "task_get", "task_update", "send_message", "broadcast_message", "read_inbox", "task_submit_plan", "task_evaluate_plan", "task_claim", "task_release"];

function visit(v: unknown, fn: (o: Record<string, unknown>, at: string) => void, at = "$"): void {
  if (Array.isArray(v)) v.forEach((x, i) => visit(x, fn, `${at}[${i}]`));
  else if (v && typeof v === "object") {
    fn(v as Record<string, unknown>, at);
    for (const [k, x] of Object.entries(v)) visit(x, fn, `${at}.${k}`);
  }
}

describe("tool table", () => {
  it("has every core tool, with the parameters users know", () => {
    const names = tools.map((t) => t.name);
    for (const n of CORE) expect(names).toContain(n);
    expect(new Set(names).size).toBe(names.length);
    const props = (n: string) => Object.keys((jsonSchema(getTool(n)) as { properties: object }).properties);
    expect(props("task_update")).toEqual(["team_name", "task_id", "status", "owner", "subject", "description", "active_form", "add_blocked_by", "remove_blocked_by"]);
    expect(props("task_create")).toEqual(["team_name", "subject", "description", "status", "owner", "blocked_by"]);
    expect(props("send_message")).toEqual(["team_name", "recipient", "content", "summary", "color"]);
    expect(props("read_inbox")).toEqual(["team_name", "agent_name", "unread_only"]);
    expect((jsonSchema(getTool("task_update")) as { required: string[] }).required).toEqual(["team_name", "task_id"]);
  });

  it.each(tools.map((t) => [t.name, t] as const))("%s: plain JSON schema (no anyOf/oneOf/allOf/$schema, enums are {type: string, enum})", (_n, tool) => {
    const s = jsonSchema(tool);
    expect(s.type).toBe("object");
    expect(s).not.toHaveProperty("$schema");
    visit(s, (o, at) => {
      for (const k of ["anyOf", "oneOf", "allOf", "not", "$ref"]) expect(o, `${at}.${k}`).not.toHaveProperty(k);
      if ("enum" in o) {
        expect(o.type, at).toBe("string");
        expect(Array.isArray(o.enum) && o.enum.every((x) => typeof x === "string"), at).toBe(true);
      }
      if ("const" in o) throw new Error(`${at}: const`);
    });
    expect(tool.description.length).toBeGreaterThan(10);
    expect(() => parseArgs(tool, tool.example)).not.toThrow();
  });

  it("roles: team_create and task_evaluate_plan are lead-only", () => {
    expect(toolsFor("teammate").map((t) => t.name)).not.toContain("team_create");
    expect(toolsFor("teammate").map((t) => t.name)).not.toContain("task_evaluate_plan");
    expect(toolsFor("lead").map((t) => t.name)).toEqual(expect.arrayContaining(CORE));
  });
});

describe("parseArgs", () => {
  const err = (name: string, raw: unknown): TeamsError => {
    try { parseArgs(getTool(name), raw); } catch (e) { return e as TeamsError; }
    throw new Error("accepted");
  };
  it("a missing field is named as required", () => {
    const e = err("send_message", { team_name: "t", recipient: "a", content: "c" });
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toMatch(/^send_message: summary: is required/);
    expect(e.message).toContain("Example:");
    expect(e.details?.field).toBe("summary");
  });
  it("an enum names the field and the allowed values", () => {
    expect(err("task_update", { team_name: "t", task_id: "1", status: "done" }).message).toMatch(/status: must be one of pending, planning, in_progress, completed, deleted \(got "done"\)/);
    expect(err("task_evaluate_plan", { team_name: "t", task_id: "1", action: "ok" }).message).toMatch(/action: must be one of approve, reject/);
  });
  it("a wrong type names the field", () => {
    expect(err("read_inbox", { team_name: "t", unread_only: "no" }).message).toMatch(/unread_only: .*expected boolean/i);
    expect(err("read_inbox", { team_name: "t", unread_only: "no" }).message).not.toMatch(/is required/);
    expect(err("task_create", { team_name: "t", subject: "s", description: "d", blocked_by: "1" }).message).toMatch(/blocked_by: /);
    expect(err("task_list", { team_name: 5 }).message).toMatch(/team_name: /);
  });
  it("non-object arguments are refused with an example", () => {
    expect(err("task_list", [1]).message).toMatch(/arguments must be a JSON object such as \{"team_name"/);
    expect(err("task_list", "x").message).toMatch(/arguments must be a JSON object/);
  });
  it("an unknown key is refused with the closest known key, the tool and an example", () => {
    const e = err("task_update", { team_name: "t", task_id: "1", stauts: "completed" });
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toMatch(/^task_update: unknown argument "stauts" \(did you mean "status"\?\); its arguments are team_name, task_id, status, .*\. Example: \{"team_name":/);
    expect(e.details?.field).toBe("stauts");
    expect(err("task_get", { team_name: "t", taskId: "1" }).message).toMatch(/unknown argument "taskId" \(did you mean "task_id"\?\)/);
    expect(err("task_create", { teamName: "t", subject: "s", description: "" }).message).toMatch(/unknown argument "teamName" \(did you mean "team_name"\?\)/);
    expect(err("task_list", { team_name: "t", zzz: 1, ownr: "a" }).message).toMatch(/^task_list: unknown arguments "zzz", "ownr" \(did you mean "owner"\?\); its arguments are team_name, status, owner\./);
    // Keys of Object.prototype are not arguments either.
    expect(err("task_list", JSON.parse('{"team_name":"t","constructor":1}')).message).toMatch(/unknown argument "constructor"/);
    expect(err("task_list", JSON.parse('{"team_name":"t","__proto__":{"status":"x"}}')).message).toMatch(/unknown argument "__proto__"/);
  });
  it.each(tools.map((t) => [t.name, t] as const))("%s: every known key of its schema passes the unknown-key check", (_n, tool) => {
    for (const ex of [tool.example, ...(tool.moreExamples ?? [])]) expect(() => parseArgs(tool, ex)).not.toThrow();
    const s = jsonSchema(tool) as { properties: Record<string, unknown> };
    expect(Object.keys(s.properties)).toEqual(Object.keys(tool.params.shape));
    expect(JSON.stringify(s)).not.toContain("additionalProperties");
  });
  it("numeric task ids are accepted as strings", () => {
    expect(parseArgs(getTool("task_get"), { team_name: "t", task_id: 3 })).toEqual({ team_name: "t", task_id: "3" });
  });
  it("a missing task_id is named as required, not coerced to \"undefined\"", async () => {
    const w = world();
    await teamWith(w, "t");
    const e = await callTool(w.as(), "task_get", { team_name: "t" }).then(() => undefined, (x) => x as TeamsError);
    expect(e?.message).toMatch(/task_id: is required/);
  });
});

describe("callTool", () => {
  it("unknown tool lists the tools", async () => {
    await expect(callTool(world().as(), "nope", {})).rejects.toThrow(/unknown tool "nope"; tools: team_create/);
  });
  it("returns text for the model and details for programs", async () => {
    const w = world();
    const r = await callTool(w.as(), "team_create", { team_name: "t" });
    expect(r.text).toMatch(/Team "t" created/);
    expect(r.details.team).toMatchObject({ name: "t" });
    const c = await callTool(w.as(), "task_create", { team_name: "t", subject: "A", description: "" });
    expect(c.details.task).toMatchObject({ id: "1" });
    expect((await callTool(w.as(), "task_get", { team_name: "t", task_id: 1 })).text).toMatch(/^#1 \[pending\] A/);
    expect((await callTool(w.as(), "read_inbox", { team_name: "t" })).text).toBe("No unread messages for team-lead.");
  });
});
