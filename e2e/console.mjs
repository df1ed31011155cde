// Drives the Vagt web console in headless Chromium: log in, wait for the alarm the test sends
// as a real DC-09 frame, then claim, classify and close it by clicking.
//
// Environment: VAGT_URL (https://127.0.0.1:PORT/), VAGT_USER, VAGT_PASSWORD, VAGT_ACCOUNT,
// CHROMIUM (default /usr/bin/chromium). Prints "ready" once logged in (the test then sends the
// frame) and "done <alarm id>" at the end; exits non-zero with a message on any failure.
import { chromium } from "playwright-core";

const env = (k, d) => process.env[k] ?? d ?? (() => { throw new Error(`${k} not set`); })();
const url = env("VAGT_URL"), user = env("VAGT_USER"), password = env("VAGT_PASSWORD");
const account = env("VAGT_ACCOUNT");

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  // The test's certificate is self-signed (vagt cert dev).
  args: ["--no-sandbox", "--ignore-certificate-errors"],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  await page.fill("#user", user);
  await page.fill("#password", password);
  await page.click("#login button[type=submit]");
  await page.waitForSelector(`#who:has-text("${user}")`);
  console.log("ready");

  // The alarm arrives over DC-09 and appears in the live queue.
  const row = page.locator("#queue tbody tr", { hasText: account });
  await row.waitFor();
  const id = (await row.locator("td").first().textContent()).trim();
  await row.click();
  await page.click('#actions button[data-cmd="claim"]');
  await page.waitForFunction(
    ([id, user]) => [...document.querySelectorAll("#queue tbody tr")]
      .some((tr) => tr.dataset.id === id && tr.children[5].textContent === user),
    [id, user]);
  await page.selectOption("#classification", "false_call");
  await page.click('#actions button[data-cmd="classify"]');
  await page.waitForSelector('#answer:has-text("done")');
  await page.click('#actions button[data-cmd="close"]');
  // Closed: it leaves the queue.
  await page.waitForFunction(
    (id) => ![...document.querySelectorAll("#queue tbody tr")].some((tr) => tr.dataset.id === id),
    id);
  console.log(`done ${id}`);
} finally {
  await browser.close();
}
