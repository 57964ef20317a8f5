"""axe-core in the browser journeys: run it on the page in front of the test and say, in a
few readable lines, what it found.

axe-core is vendored in tests/vendor/axe-core/ (see the README there): nothing is fetched at
test time. The rules are WCAG 2.0/2.1 A and AA plus `target-size` (a 2.2 rule the issue asks
for: 24 × 24 px targets or enough space around them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
EXTRA_RULES = ["target-size"]

# 200 % zoom as the issue defines it: a 1280 px window at 200 % lays out like 640 CSS px.
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1},
    "narrow-320": {"viewport": {"width": 320, "height": 720}, "device_scale_factor": 1},
    "zoom-200": {"viewport": {"width": 640, "height": 450}, "device_scale_factor": 2},
}

_RUN = """async ({tags, extra}) => {
  const rules = axe.getRules(tags).map((r) => r.ruleId).concat(extra);
  const result = await axe.run(document, {
    runOnly: {type: "rule", values: rules},
    resultTypes: ["violations", "incomplete"],
  });
  const brief = (items) => items.map((r) => ({
    id: r.id,
    nodes: r.nodes.map((n) => ({
      target: n.target.join(" "),
      html: n.html.slice(0, 160),
      why: [...n.any, ...n.all, ...n.none].map((c) => c.message).join("; ").slice(0, 240),
    })),
  }));
  return {violations: brief(result.violations), incomplete: brief(result.incomplete)};
}"""

# Wider than the window = the page scrolls sideways (WCAG 1.4.10 reflow); a table may scroll
# inside its own container, the page may not.
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && !el.closest(".table-wrap");
  });
  return {
    scroll: document.documentElement.scrollWidth, width,
    wide: wide.slice(0, 5).map((el) => el.outerHTML.slice(0, 120)),
  };
}"""


@dataclass
class Finding:
    where: str
    kind: str  # "violation", "incomplete" or "reflow"
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.where}] {self.kind} {self.rule}: {self.detail}"


def audit(page, where: str) -> list[Finding]:
    """axe's violations and "needs review" nodes on this page, and a sideways scroll if any."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the Content-Security-Policy refuses inline scripts.
        page.evaluate(f"() => {{ {AXE.read_text()}\n }}")
    result = page.evaluate(_RUN, {"tags": TAGS, "extra": EXTRA_RULES})
    findings = [
        Finding(where, kind, rule["id"], f"{node['target']} {node['html']} — {node['why']}")
        for kind, key in (("violation", "violations"), ("incomplete", "incomplete"))
        for rule in result[key]
        for node in rule["nodes"]
    ]
    overflow = page.evaluate(_OVERFLOW)
    if overflow["scroll"] > overflow["width"]:
        findings.append(
            Finding(
                where,
                "reflow",
                "1.4.10",
                f"page {overflow['scroll']} px wide in {overflow['width']} px: {overflow['wide']}",
            )
        )
    return findings
