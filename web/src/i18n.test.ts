import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { dictionaries, errorText } from "./i18n";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../crates/natter/src");

function rustFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? rustFiles(path.join(dir, e.name)) : e.name.endsWith(".rs") ? [path.join(dir, e.name)] : []);
}

/** The `code` strings the server can answer with. */
function serverCodes(): string[] {
  const codes = new Set<string>();
  for (const f of rustFiles(SRC)) {
    const s = fs.readFileSync(f, "utf8");
    for (const m of s.matchAll(/(?:invalid|bad_request)\(\s*"([a-z_]+)"/g)) codes.add(m[1]);
    for (const m of s.matchAll(/code:\s*"([a-z_]+)"/g)) codes.add(m[1]);
    if (f.endsWith("error.rs")) for (const m of s.matchAll(/=>\s*"([a-z_]+)"/g)) codes.add(m[1]);
  }
  return [...codes].sort();
}

describe("error texts", () => {
  it("translate every server error code in both languages", () => {
    const codes = serverCodes();
    if (codes.length === 0) return; // the web UI built outside the repository
    expect(codes).toContain("invalid_credentials");
    for (const lang of ["en", "ko"] as const) {
      const missing = codes.filter((c) => !(c in dictionaries[lang].errors));
      expect(missing, `${lang} lacks texts for`).toEqual([]);
    }
  });
  it("name the limits", () => {
    expect(errorText(dictionaries.ko, "payload_too_large")).toMatch(/5MB/);
    expect(errorText(dictionaries.en, "payload_too_large")).toMatch(/5 MB/);
    expect(errorText(dictionaries.en, "message_too_long")).toMatch(/4,000/);
  });
  it("never fall back to the server's English for an unknown code", () => {
    expect(errorText(dictionaries.ko, "something_new")).toBe(dictionaries.ko.errors.unknown);
  });
});
