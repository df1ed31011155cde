// The console never goes stale silently: log in, see the queue live; when the server goes away
// the whole queue must say NOT LIVE and refuse to act; when it is back the page reconnects by
// itself (no click, no reload), shows the fresh queue with the alarm that arrived meanwhile,
// and a command gets its answer.
//
// Environment: VAGT_URL, VAGT_USER, VAGT_PASSWORD, VAGT_ACCOUNT (the account of the alarm the
// test sends after the restart), CHROMIUM, VAGT_SCREENSHOT_DIR (PNGs: stale.png, live.png).
// Prints "ready" once live, "stale" once the page shows it is not live (the test then restarts
// the server and sends the alarm), "live <alarm id>" at the end.
import { env, launch, login } from "./session.mjs";

const url = env("VAGT_URL"), user = env("VAGT_USER"), password = env("VAGT_PASSWORD");
const account = env("VAGT_ACCOUNT");
const shots = process.env.VAGT_SCREENSHOT_DIR;

const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await login(page, url, user, password);
  await page.waitForSelector('#status:text-is("live")');
  console.log("ready");

  // The server goes away: the banner covers the queue, the buttons are disabled.
  await page.waitForSelector("#stale:not([hidden])");
  const disabled = await page.locator('#actions button[data-cmd="claim"]').isDisabled();
  if (!disabled) throw new Error("the claim button stays active while the console is not live");
  if ((await page.textContent("#status")) !== "NOT LIVE") throw new Error("status does not say NOT LIVE");
  if (shots) await page.screenshot({ path: `${shots}/stale.png`, fullPage: true });
  console.log("stale");

  // Back by itself, with the alarm that arrived while it was away.
  await page.waitForSelector('#status:text-is("live")');
  if (await page.isVisible("#stale")) throw new Error("the banner stays after reconnecting");
  const row = page.locator("#queue tbody tr", { hasText: account });
  await row.waitFor();
  const id = (await row.locator("td").first().textContent()).trim();
  await row.click();
  await page.click('#actions button[data-cmd="claim"]');
  await page.waitForSelector(`#answer:has-text("claim A${id}: done")`);
  if (shots) await page.screenshot({ path: `${shots}/live.png`, fullPage: true });
  console.log(`live ${id}`);
} finally {
  await browser.close();
}
