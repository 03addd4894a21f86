"""The main pages in each language, in a real browser (issue 11, "Done when"): the dashboard, the recommendation
list, a recommendation, the assessment form, the review queue (a curator's) and the sign-in page (a visitor's),
in English, Simplified Chinese and Uyghur, at 1280 px and 390 px. On each:

- axe-core's WCAG 2.0/2.1 A and AA rules find nothing (the helpers of test_accessibility.py);
- `<html lang>` is the page's language and `dir` is rtl for Uyghur, ltr otherwise;
- the layout follows the direction: the main heading's text and the header start at the right edge in Uyghur
  (at the left otherwise), the first item of the main navigation is right of the second; recommendation codes
  are isolated left to right (inside `<bdi>` or `dir="ltr"`); URL, e-mail and date inputs read left to right;
- in Chinese and Uyghur our own text (nav, header, buttons, labels, headings, table headers, legends) holds none
  of a few common English words. User data (the data set's recommendations are English) is left out: text the
  templates mark as user text (`dir="auto"`, `<bdi>`), and text marked as another language (`lang`, as the
  language switcher's "English").

Screenshots: test-artifacts/screenshots/lang-<lang>-<page>-<width>.png.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from django.utils import translation

from tests.browser.conftest import PageWatch
from tests.browser.test_accessibility import (  # noqa: F401 (site and axe_source are fixtures)
    SCREENSHOTS,
    WIDTHS,
    axe_source,
    describe,
    run_axe,
    sign_in_by_cookie,
    site,
    users,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LANGUAGES = ("en", "zh-hans", "ug")
RTL = {"ug"}

# Common English words that must not be left in our own text of a Chinese or Uyghur page.
ENGLISH_WORDS = (
    "the",
    "and",
    "of",
    "your",
    "Sign",
    "Dashboard",
    "Recommendations",
    "Evidence",
    "Review",
    "Submit",
    "Status",
)
# Where our own text is: the chrome and the headings, never a recommendation's text.
CHROME = "nav, header, button, label, h1, h2, th, legend"
# User data inside them: user text (dir=auto), isolated codes and names (bdi), text in another language (lang).
NOT_OURS = "[dir=auto], bdi"


@dataclass(frozen=True)
class Page:
    id: str
    role: str | None  # None: a visitor (signed out)
    name: str
    args: Callable = field(default=lambda d: [])


PAGES = (
    Page("dashboard", "monitor", "cases:dashboard"),
    Page("recommendations", "monitor", "cases:recommendation-list"),
    Page("recommendation", "monitor", "cases:recommendation", args=lambda d: [d.rec.code]),
    Page("assess", "monitor", "cases:assess", args=lambda d: [d.rec.code]),
    Page("review-queue", "curator", "cases:review-queue"),
    Page("sign-in", None, "account_login"),
)


# --- What is checked in the page ----------------------------------------------------------------------------

# Where the main heading's text and the header's first item sit, relative to the page's content box.
LAYOUT = """() => {
  const textBox = (el) => { const r = document.createRange(); r.selectNodeContents(el);
                            return r.getBoundingClientRect(); };
  const main = document.querySelector("main").getBoundingClientRect();
  const h1 = document.querySelector("main h1");
  const heading = h1 ? textBox(h1) : null;
  const items = [...document.querySelectorAll(".site-nav li")].map((li) => li.getBoundingClientRect())
    .filter((b) => b.width > 0);
  const name = document.querySelector(".site-name").getBoundingClientRect();
  return {
    main: {left: main.left, right: main.right},
    heading: heading && {left: heading.left, right: heading.right},
    headingDirection: h1 && getComputedStyle(h1).direction,
    nav: items.map((b) => ({left: b.left, right: b.right, top: b.top})),
    siteName: {left: name.left, right: name.right},
    width: document.documentElement.clientWidth,
  };
}"""

# Text nodes showing a recommendation code (XJ22-151-i) that are not isolated left to right (text read only by
# screen readers, .visually-hidden, has no visual order to get wrong).
CODES_NOT_ISOLATED = r"""() => {
  const code = /[A-Z]{2,}\d{2}-\d+(-[a-z]+)?/;
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!code.test(node.data) || parent.closest("script, style, option, textarea, [dir=auto], .visually-hidden")) continue;
    const isolated = parent.closest("bdi, [dir=ltr]");
    if (!isolated || getComputedStyle(isolated).direction !== "ltr") {
      found.push(`<${parent.tagName.toLowerCase()} class="${parent.className}">${node.data.trim().slice(0, 80)}`);
    }
  }
  return found;
}"""

# In a right-to-left page, Latin-script text with punctuation at an end ("Takes prompt steps…;", "151(i)") that
# is not isolated (dir=auto, dir=ltr, <bdi>): its punctuation lands at the wrong end ("?Forgot your password").
LATIN_NOT_ISOLATED = r"""() => {
  const latin = /[A-Za-z]/, rtlScript = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/;
  const neutralEnd = /^[\s.,;:!?()\[\]"'\u2018-\u201D\u2026\u00B6\u00B7-]|[\s.,;:!?()\[\]"'\u2018-\u201D\u2026-]$/;
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement, text = node.data.trim();
    if (!text || parent.closest("script, style, option, textarea, .visually-hidden")) continue;
    if (!latin.test(text) || rtlScript.test(text) || !neutralEnd.test(text)) continue;
    const own = parent.closest("bdi, [dir]");
    if (own && own.tagName !== "BDI" && own.getAttribute("dir") === "rtl" && getComputedStyle(parent).display !== "none") {
      found.push(`<${parent.tagName.toLowerCase()} class="${parent.className}">${text.slice(0, 80)}`);
    }
  }
  return found;
}"""

# URL, e-mail and date inputs and their computed direction.
INPUT_DIRECTIONS = """() => [...document.querySelectorAll(
    "input[type=url], input[type=email], input[type=date], input[name$=url], input[name*=date]")]
  .map((el) => ({name: el.name, type: el.type, direction: getComputedStyle(el).direction}))"""

# Our own text in the chrome, leaving out user data and text marked as another language.
CHROME_TEXT = """([chrome, notOurs, lang]) => {
  const texts = [];
  for (const el of document.querySelectorAll(chrome)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (parent.closest(notOurs) || parent.closest("script, style")) continue;
      const marked = parent.closest("[lang]");
      if (marked && marked.lang !== lang) continue;
      if (node.data.trim()) texts.push([el.tagName.toLowerCase(), node.data.trim()]);
    }
  }
  return texts;
}"""


def english_words(texts: list[list[str]]) -> list[str]:
    import re

    pattern = re.compile(
        r"\b(" + "|".join(w for w in ENGLISH_WORDS if w.islower()) + r")\b"
        r"|\b(" + "|".join(w for w in ENGLISH_WORDS if not w.islower()) + r")",
        re.IGNORECASE,
    )
    return sorted({f"<{tag}> {text!r}" for tag, text in texts if pattern.search(text)})


def layout_problems(layout: dict, rtl: bool) -> list[str]:
    problems = []
    main = layout["main"]
    heading = layout["heading"]
    if heading is None:
        problems.append("no <h1> in <main>")
    else:
        from_start = main["right"] - heading["right"] if rtl else heading["left"] - main["left"]
        from_end = heading["left"] - main["left"] if rtl else main["right"] - heading["right"]
        if from_start > from_end or layout["headingDirection"] != ("rtl" if rtl else "ltr"):
            problems.append(f"the main heading does not start at the {'right' if rtl else 'left'}: {layout}")
    name = layout["siteName"]
    if (layout["width"] - name["right"] < name["left"]) != rtl:
        problems.append(f"the site's name is not at the {'right' if rtl else 'left'}: {name}")
    nav = layout["nav"]
    if len(nav) >= 2:
        # The first two items share a row at any width; with rows wrapping, the last one may not.
        first, second = nav[0], nav[1]
        if abs(first["top"] - second["top"]) < 2 and (first["left"] > second["left"]) != rtl:
            problems.append(f"the navigation runs the wrong way: first {first}, second {second}")
        last = nav[-1]
        if abs(first["top"] - last["top"]) < 2 and (first["left"] > last["left"]) != rtl:
            problems.append(f"the navigation runs the wrong way: first {first}, last {last}")
    return problems


def url_in(language: str, spec: Page, d) -> str:
    with translation.override(language):
        return reverse(spec.name, args=spec.args(d))


# --- The walk ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", LANGUAGES)
def test_main_pages_in_each_language(language, site, browser, live_server, axe_source):  # noqa: F811
    rtl = language in RTL
    found: list[str] = []
    contexts = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for spec in PAGES:
            if spec.role not in contexts:
                context = browser.new_context(
                    base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
                )
                if spec.role:
                    sign_in_by_cookie(context, live_server, users(site)[spec.role])
                contexts[spec.role] = context
            page = contexts[spec.role].new_page()
            page.set_default_timeout(10_000)
            watch = PageWatch(page)
            url = url_in(language, spec, site)
            response = page.goto(url)
            problems = []
            if response.status != 200 or page.url != live_server.url + url:
                problems.append(f"answered {response.status} at {page.url}")
            html = page.locator("html")
            lang, direction = html.get_attribute("lang"), html.get_attribute("dir")
            if (lang, direction) != (language, "rtl" if rtl else "ltr"):
                problems.append(f'<html lang="{lang}" dir="{direction}">')
            if language != "en":
                problems += [
                    f"English in our own text: {t}"
                    for t in english_words(page.evaluate(CHROME_TEXT, [CHROME, NOT_OURS, language]))
                ]
            for width, height in WIDTHS:
                page.set_viewport_size({"width": width, "height": height})
                at = f"at {width} px:"
                violations = run_axe(page, axe_source, {}, watch)
                if violations:
                    problems.append(f"{at} axe:\n{describe(violations)}")
                problems += [f"{at} {p}" for p in layout_problems(page.evaluate(LAYOUT), rtl)]
                problems += [
                    f"{at} a code not isolated left to right: {c}" for c in page.evaluate(CODES_NOT_ISOLATED)
                ]
                if rtl:
                    problems += [
                        f"{at} Latin text not isolated: {t}" for t in page.evaluate(LATIN_NOT_ISOLATED)
                    ]
                problems += [
                    f"{at} input {i['name']} ({i['type']}) reads {i['direction']}"
                    for i in page.evaluate(INPUT_DIRECTIONS)
                    if i["direction"] != "ltr"
                ]
                page.screenshot(
                    path=str(SCREENSHOTS / f"lang-{language}-{spec.id}-{width}.png"), full_page=True
                )
            problems += watch.problems
            page.close()
            if problems:
                found.append(f"{spec.id} ({url}):\n  " + "\n  ".join(problems))
    finally:
        for context in contexts.values():
            context.close()
    assert not found, f"in {language}:\n" + "\n".join(found)


# --- The checks can fail ------------------------------------------------------------------------------------


def test_english_words_are_found_in_chrome_only(browser):
    page = browser.new_page()
    try:
        page.set_content(
            '<html lang="ug" dir="rtl"><body><header><nav><a>Dashboard</a></nav></header><main>'
            "<h1>تەكشۈرۈش <bdi>The code</bdi></h1><label>Your name</label><p>the text of a user</p>"
            '<h2><span dir="auto">Release of the detained</span></h2>'
            '<button lang="en">English</button><table><tr><th>Status</th></tr></table></main></body></html>'
        )
        found = english_words(page.evaluate(CHROME_TEXT, [CHROME, NOT_OURS, "ug"]))
    finally:
        page.close()
    assert found == [
        "<header> 'Dashboard'",
        "<label> 'Your name'",
        "<nav> 'Dashboard'",
        "<th> 'Status'",
    ], found


def test_layout_and_isolation_checks_fail_on_a_page_laid_out_left_to_right(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_content(
            '<html lang="ug" dir="rtl"><body><header><a class="site-name">Tracker</a>'
            '<nav class="site-nav"><ul style="display:flex;direction:ltr"><li>One</li><li>Two</li></ul></nav>'
            '</header><main><h1 style="direction:ltr;text-align:left">Code XJ22-151-i</h1>'
            '<input type="url" name="url"></main></body></html>'
        )
        layout = layout_problems(page.evaluate(LAYOUT), rtl=True)
        codes = page.evaluate(CODES_NOT_ISOLATED)
        inputs = page.evaluate(INPUT_DIRECTIONS)
    finally:
        page.close()
    assert any("main heading" in p for p in layout), layout
    assert any("navigation" in p for p in layout), layout
    assert codes and "XJ22-151-i" in codes[0]
    assert inputs == [{"name": "url", "type": "url", "direction": "rtl"}]
