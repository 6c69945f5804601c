// Package console is `kcsr console`: the approver's review page, served on loopback by the
// CLI, acting as the user of a kubeconfig.
//
// # What it is
//
// A small web server in the CLI process, not in kcsr server: every API call it makes goes
// out with the kubeconfig user's credentials, so RBAC decides what the page can show and
// do, exactly as it does for kubectl. It keeps nothing of its own but one informer over
// the CertificateSigningRequests that user may list and watch (the queue, pushed to the
// page as it changes) and a short-lived tally derived from it (denials seen, for the
// activity chart). The inventory is read page by page from the API when the page asks.
//
// # Who can do what through it
//
// The page can do no more than the kubeconfig's user; the console's own defences are
// about someone else reaching that user through the browser:
//
//   - It listens on loopback only (a non-loopback --address is refused), and answers only
//     requests whose Host is the address it printed (a DNS-rebinding page on another
//     name is refused).
//   - It prints a URL with a one-time login secret (256 bits, as Jupyter's token, but
//     spent on first use): the login sets an HttpOnly, SameSite=Strict session cookie
//     and redirects to the page with the session's token in the URL fragment (never sent
//     to a server), which the page keeps in its origin's storage. The cookie alone opens
//     nothing of the API: browsers send it to every port of the host (another local
//     user's server on 127.0.0.1 would receive it), so every API request also carries
//     the token, in a header (the event stream, which cannot send headers, in its query).
//     The page's HTML holds no token.
//   - Every state-changing request is a POST with a JSON body, the token, and (when the
//     browser sends them) a same-origin Origin and Sec-Fetch-Site; anything else is
//     refused before the API is called. A decision names the CSR's uid as reviewed: one
//     deleted and created again under the same name is not decided.
//   - Every response carries a strict Content-Security-Policy (scripts, styles and
//     connections from the console itself only, no inline script, no framing), nosniff,
//     no-referrer and no-store.
//   - Nothing from a CSR or a record (names, subjects, SANs, messages) is ever rendered as
//     HTML: the page is a static html/template; data arrives as JSON and the script puts
//     it in the page with textContent only.
//   - An approval the CLI would ask about (system:masters, a request its signer will
//     refuse, a signer nobody serves) is refused by the console's API unless the request
//     says it was confirmed, and the page asks first.
//
// # Layout
//
// console.go starts it (flags, the listener, the informer); security.go is the login,
// session, CSRF and header middleware; api.go the JSON handlers; queue.go the informer
// and the event stream (Server-Sent Events) that pushes the queue to the page;
// inventory.go the inventory search and the charts' figures; assets/ the page, its
// script and its style, embedded in the binary.
package console
