/** What the model reads about dependencies: only unfinished blockers count as "blocked by". */
import { afterAll, describe, expect, it } from "vitest";
import { callTool } from "../../src/tools/table.js";
import { cleanupTemp, teamWith, world } from "../helpers/fixtures.js";

afterAll(cleanupTemp);

describe("blockers in task_list, task_get, task_create and task_claim", () => {
  it("a completed or deleted blocker is no longer shown as blocking", async () => {
    const w = world();
    await teamWith(w, "t", ["dev"]);
    const call = async (tool: string, args: object, as = "team-lead") => (await callTool(w.as(as), tool, { team_name: "t", ...args })).text;
    await call("task_create", { subject: "Schema", description: "" });
    await call("task_create", { subject: "Migrate", description: "" });
    await call("task_create", { subject: "Seed", description: "" });
    expect(await call("task_create", { subject: "Deploy", description: "", blocked_by: ["1", "2", "3"] })).toBe("Task #4 created, blocked by #1, #2, #3.");
    expect(await call("task_list", {})).toContain("#4 [pending] Deploy (blocked by #1, #2, #3)");

    await call("task_update", { task_id: "1", status: "completed" });
    await call("task_update", { task_id: "3", status: "deleted" });
    expect((await call("task_list", {})).split("\n")).toContain("#4 [pending] Deploy (blocked by #2)");
    const get = await callTool(w.as(), "task_get", { team_name: "t", task_id: "4" });
    expect(get.text.split("\n")[1]).toBe("blocked by: #2 (#1 done, #3 deleted)");
    expect(get.details.openBlockers).toEqual(["2"]);
    expect(await call("task_create", { subject: "Docs", description: "", blocked_by: ["1"] })).toBe("Task #5 created.");

    await call("task_update", { task_id: "2", status: "completed" });
    const list = await call("task_list", {});
    expect(list.split("\n")).toContain("#4 [pending] Deploy");
    expect(list).not.toMatch(/blocked by/);
    const text = await call("task_get", { task_id: "4" });
    expect(text).not.toMatch(/blocked by/);
    expect(text.split("\n")[1]).toBe("not blocked (#1 done, #2 done, #3 deleted)");
    const claimed = await call("task_claim", { task_id: "4" }, "dev");
    expect(claimed).toMatch(/^Claimed:\n#4 \[in_progress\] Deploy \(owner: dev\)\nnot blocked/);
  });
});
