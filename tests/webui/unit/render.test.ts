// Markdown rendering: highlighted code blocks with a copy button, math as MathML, and nothing
// executable from the model survives.
import { expect, test } from "vitest";
import { render_markdown } from "../../../webui/src/markdown/render";

function dom(md: string): HTMLElement {
  const el = document.createElement("div");
  el.innerHTML = render_markdown(md);
  return el;
}

test("a fenced code block is highlighted and gets a copy button", () => {
  const el = dom("Look:\n\n```python\ndef f(x):\n    return x + 1  # add\n```\n");
  const code = el.querySelector(".code-block pre code")!;
  expect(code.className).toContain("language-python");
  expect(code.querySelector(".hljs-keyword")?.textContent).toBe("def");
  expect(code.querySelector(".hljs-comment")?.textContent).toBe("# add");
  expect(code.textContent).toBe("def f(x):\n    return x + 1  # add");
  const btn = el.querySelector(".code-block button.copy-code")!;
  expect(btn.getAttribute("aria-label")).toBe("Copy code");
  expect(el.querySelector(".code-lang")?.textContent).toBe("python");
});

test("an unknown language is escaped, not highlighted", () => {
  const el = dom("```brainfudge\n<b>+-</b>\n```");
  expect(el.querySelector("code")!.textContent).toBe("<b>+-</b>");
  expect(el.querySelector("code b")).toBeNull();
  expect(el.querySelector("code span")).toBeNull();
});

test("all four math delimiters become MathML; code and prices stay text", () => {
  const el = dom("Inline $a^2$ and \\(b_1\\).\n\n$$\\frac{1}{2}$$\n\n\\[ \\sqrt{x} \\]\n\nIt costs $5 or $10. `$x$`");
  const maths = el.querySelectorAll("math");
  expect(maths.length).toBe(4);
  expect(maths[0].querySelector("msup")).not.toBeNull();
  expect(maths[1].querySelector("msub")).not.toBeNull();
  expect(maths[2].getAttribute("display")).toBe("block");
  expect(maths[2].querySelector("mfrac")).not.toBeNull();
  expect(maths[3].querySelector("msqrt")).not.toBeNull();
  expect(el.textContent).toContain("It costs $5 or $10.");
  expect(el.querySelector("code")!.textContent).toBe("$x$");
  // the TeX source is not shown beside the formula
  expect(maths[0].textContent).not.toContain("^");
});

test("no style attributes reach the page (the CSP would block them)", () => {
  const el = dom("$\\bad{$ and $\\color{red}{x}$ and <span style=\"color:red\">x</span>");
  expect(el.querySelectorAll("[style]").length).toBe(0);
  expect(el.querySelector(".katex-error")).not.toBeNull();
});

test("raw HTML and script from the model never executes", () => {
  const el = dom(
    '<script>alert(1)</script>\n\nText <img src=x onerror="alert(2)"> and <a href="#" onclick="alert(3)">x</a>\n\n' +
      "[link](javascript:alert(4)) ![pic](https://example.com/p.png)\n\n<iframe src=\"https://x\"></iframe>",
  );
  expect(el.querySelector("script, iframe, img")).toBeNull();
  for (const node of el.querySelectorAll("*")) {
    for (const a of node.attributes) expect(a.name.startsWith("on")).toBe(false);
  }
  for (const a of el.querySelectorAll("a")) expect(a.getAttribute("href") ?? "").not.toMatch(/^javascript:/i);
  // shown as text instead
  expect(el.textContent).toContain("<script>alert(1)</script>");
  expect(el.textContent).toContain("onerror");
});

test("links open in a new tab without an opener; images become links", () => {
  const el = dom("[site](https://example.com) ![cat](https://example.com/cat.png)");
  const [site, cat] = el.querySelectorAll("a");
  expect(site.getAttribute("target")).toBe("_blank");
  expect(site.getAttribute("rel")).toBe("noopener noreferrer");
  expect(cat.getAttribute("href")).toBe("https://example.com/cat.png");
  expect(cat.textContent).toBe("cat");
});
