// A home-care responder on a phone-sized screen (390×844, touch): log in, wait for the visit
// forwarded to their team (the test forwards it after "ready"), see the citizen's address, the
// number to call and the door grant with its time left, then accept, arrive and close it by
// tapping. The page must fit the screen (no sideways scrolling). In Danish, as the home-care
// staff read it: every text of the page has its Danish version.
//
// Environment: VAGT_URL, VAGT_USER / VAGT_PASSWORD (a responder), VAGT_ACCOUNT, VAGT_CITIZEN_NAME,
// VAGT_ADDRESS, VAGT_LOCK (the account's door lock), VAGT_SCREENSHOT (optional PNG), CHROMIUM.
// Prints "ready" once logged in and "done <alarm id>" at the end; exits non-zero on failure.
import { env, launch, login } from "./session.mjs";

const browser = await launch();
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await login(page, env("VAGT_URL"), env("VAGT_USER"), env("VAGT_PASSWORD"), "da");
  await page.waitForSelector(`#who:has-text("${env("VAGT_USER")} (udkørende")`);
  // Danish throughout: no string lacks its translation, no fixed text was left in English.
  const untranslated = await page.evaluate(() => [
    ...Object.keys(STRINGS.en).filter((k) => !(k in STRINGS.da)),
    ...[...document.querySelectorAll("[data-t]")].map((el) => el.dataset.t).filter((k) => !(k in STRINGS.da)),
  ]);
  if (untranslated.length) throw new Error(`not in Danish: ${untranslated.join(", ")}`);
  if ((await page.textContent('#queue th[data-t="col state"]')) !== "Tilstand") throw new Error("the queue is not in Danish");
  console.log("ready");

  const row = page.locator("#queue tbody tr", { hasText: env("VAGT_ACCOUNT") });
  await row.waitFor();
  const id = (await row.locator("td").first().textContent()).trim();
  const state = async () => (await row.locator("td").nth(4).textContent()).trim();
  if ((await state()) !== "videresendt") throw new Error(`the visit is ${await state()}`);
  const event = (await row.locator("td").nth(3).textContent()).trim();
  if (event !== "Nødkald (QA)") throw new Error(`the event is not named in Danish: ${event}`);
  await row.tap();
  // The citizen: who, where, the number to call, and the door grant while it lasts.
  await page.waitForSelector(`#c-name:has-text("${env("VAGT_CITIZEN_NAME")}")`);
  await page.waitForSelector(`#c-address:has-text("${env("VAGT_ADDRESS")}")`);
  const tel = await page.getAttribute("#c-phones a", "href");
  if (!/^tel:\+?[0-9]+$/.test(tel)) throw new Error(`call link: ${tel}`);
  await page.waitForSelector(`#d-fields dd:has-text("${env("VAGT_LOCK")}")`);
  const door = await page.locator("#d-fields dd", { hasText: env("VAGT_LOCK") }).textContent();
  if (!/\d+:\d\d tilbage$/.test(door)) throw new Error(`door grant: ${door}`);
  // Only the visit's next step is offered, never the centre's.
  const visible = async (cmd) => page.isVisible(`#actions button[data-cmd="${cmd}"]`);
  for (const cmd of ["claim", "forward", "release", "callback"]) {
    if (await visible(cmd)) throw new Error(`a responder is offered ${cmd}`);
  }
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= screen.width);
  if (!fits) {
    const wide = await page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > 390 + 1)
      .slice(0, 8).map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`));
    throw new Error(`the page is wider than the phone's screen: ${wide.join(", ")}`);
  }
  if (process.env.VAGT_SCREENSHOT) await page.screenshot({ path: process.env.VAGT_SCREENSHOT, fullPage: true });

  if ((await page.textContent('#actions button[data-cmd="accept"]')) !== "Accepter") throw new Error("the buttons are not in Danish");
  for (const [cmd, next] of [["accept", "accepteret"], ["arrive", "fremme"]]) {
    await page.tap(`#actions button[data-cmd="${cmd}"]`);
    await page.waitForFunction(
      ([id, next]) => [...document.querySelectorAll("#queue tbody tr")]
        .some((tr) => tr.dataset.id === id && tr.children[4].textContent === next),
      [id, next]);
    if (cmd !== "accept") continue;
    // Accepted: the visit runs against the promise — 30 min by day and evening, 60 at night
    // (23:00–07:00 in Copenhagen), counted from the forward a moment ago.
    const hour = Number(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Copenhagen", hour: "2-digit", hourCycle: "h23" }).format(new Date()));
    const promise = hour >= 23 || hour < 7 ? 60 : 30;
    const deadline = page.locator("#d-fields dd", { hasText: "on_site om" });
    await deadline.waitFor();
    const [, mins] = (await deadline.textContent()).match(/on_site om (\d+):\d\d/) ?? [];
    if (!(Number(mins) < promise && Number(mins) >= promise - 2)) throw new Error(`the visit's deadline: ${await deadline.textContent()} (promise ${promise} min)`);
  }
  await page.selectOption("#classification", "emergency");
  await page.tap('#actions button[data-cmd="close"]');
  await page.waitForFunction(
    (id) => ![...document.querySelectorAll("#queue tbody tr")].some((tr) => tr.dataset.id === id),
    id);
  console.log(`done ${id}`);
} finally {
  await browser.close();
}
