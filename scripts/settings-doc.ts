/** Renders docs/settings.md from the SETTINGS table; a test compares it with the file. */
import { SETTINGS } from "../src/config/settings.js";

export function renderSettingsDoc(): string {
  const out: string[] = [
    "# Settings",
    "",
    "<!-- Generated from src/config/settings.ts by `npm run docs`. Do not edit. -->",
    "",
    "Every setting can be given on the command line, in a Gunicorn-style config file",
    "(`name = value`), or in `NARWHAL_CMD_ARGS` / `GUNICORN_CMD_ARGS`.",
  ];
  let section = "";
  for (const s of SETTINGS) {
    if (s.section !== section) {
      section = s.section;
      out.push("", `## ${section}`);
    }
    const def = Array.isArray(s.default) ? `[${s.default.join(", ")}]` : JSON.stringify(s.default);
    out.push("", `### \`${s.name}\``, "");
    out.push(
      `- flags: ${s.flags.length ? s.flags.map((f) => `\`${f}\``).join(", ") : "none (config file only)"}`,
    );
    out.push(
      `- type: ${s.kind}${s.choices ? ` (${s.choices.map((c) => `\`${c}\``).join(", ")})` : ""}`,
    );
    out.push(`- default: \`${def}\``);
    if (s.env) out.push(`- environment: \`${s.env}\``);
    out.push("", s.doc);
  }
  return out.join("\n") + "\n";
}
