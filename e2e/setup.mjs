// The first run in a browser: the one-time set-up link opens the form that creates the first
// administrator, who lands in the live console with the token gone from the address bar. When
// the server comes back with that admin's password changed, the page is sent back to the login
// form, and logging in there is a plain login: the spent link is not tried again.
//
// Environment: VAGT_URL (https://HOST:PORT/), VAGT_TOKEN, VAGT_USER, VAGT_PASSWORD,
// VAGT_NEW_PASSWORD, CHROMIUM. Prints "admin" once the admin is live (the test then restarts
// the server with the password changed), "denied" once the page shows the login form again,
// "live" at the end.
import { env, launch } from "./session.mjs";

const url = env("VAGT_URL"), token = env("VAGT_TOKEN"), user = env("VAGT_USER");
const password = env("VAGT_PASSWORD"), changed = env("VAGT_NEW_PASSWORD");

const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(`${url}#setup=${token}`);
  // A browser that never chose starts in Danish; the switch turns the page English.
  const danish = await page.textContent("#login-title");
  if (!/^Første start/.test(danish)) throw new Error(`not Danish by default: ${danish}`);
  await page.selectOption("#lang", "en");
  const title = await page.textContent("#login-title");
  if (!/First run/.test(title) || !(await page.isVisible("#login-title"))) throw new Error(`no set-up form: ${title}`);
  await page.fill("#user", user);
  await page.fill("#password", password);
  await page.click("#login button[type=submit]");
  await page.waitForSelector('#status:text-is("live")');
  if (!(await page.textContent("#who")).includes("admin")) throw new Error("not logged in as an admin");
  if (page.url().includes("setup")) throw new Error(`the token stays in the address bar: ${page.url()}`);
  console.log("admin");

  // The server is back with another password for this admin: the page says so at the form.
  await page.waitForSelector("#login:not([hidden])");
  await page.waitForSelector("#login-error:not(:empty)");
  if (await page.isVisible("#login-title")) throw new Error("the spent set-up form is offered again");
  console.log("denied");

  await page.fill("#user", user);
  await page.fill("#password", changed);
  await page.click("#login button[type=submit]");
  await page.waitForSelector('#status:text-is("live")');
  console.log("live");
} finally {
  await browser.close();
}
