import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { renderReference, referencePath } from "../dist/src/docs/reference.js";
import { tools } from "../dist/src/tools/table.js";

describe("docs/reference.md", () => {
  it("is up to date with the tool table (run `npm run docs`)", () => {
    expect(fs.readFileSync(referencePath(), "utf8")).toBe(renderReference());
  });
  it("documents every tool and every parameter", () => {
    const text = fs.readFileSync(referencePath(), "utf8");
    for (const t of tools) {
      expect(text).toContain(`## ${t.name}`);
      for (const k of Object.keys(t.params.shape)) expect(text).toContain(`\`${k}\``);
    }
  });
});
