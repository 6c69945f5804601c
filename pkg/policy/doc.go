// Package policy decides whether a certificate signing request is approved automatically,
// and says why, in a sentence a person understands.
//
// The model is the spec of kcsr's ApprovalPolicy object (PolicySpec): the signer names a
// policy covers ("example.com/signer" or "example.com/*"), an optional CEL match
// expression, named CEL rules over the decoded request (Request, the CEL variable
// `request` of the object type kcsr.Request), the action taken when every rule holds (Approve or Deny) and the action
// taken when one is false (NoOpinion, the default, or Deny).
//
// Guarantees:
//   - Compile refuses a policy with every error at once, each naming its field and, for
//     CEL, keeping the CEL error with its position; a compiled Policy never fails to build.
//   - Evaluate never approves by accident: a runtime error, a cancelled context, an
//     expression exceeding CostLimit or a policy exceeding EvalTimeout is NoOpinion, with
//     the error in the message.
//   - Every message says why in words, with the values of the request fields the deciding
//     expression read: `policy "developers" has no opinion: rule "own-cn" is false: CN
//     must be your own username (request.subject.commonName="bob",
//     request.requester.username="alice")`.
//   - Decide applies GuardRails that no policy overrides: a request of a login signer
//     (kube-apiserver-client, or one whose CA the server trusts for client certificates)
//     for a protected group is never approved; weak keys and SHA-1 or MD5 signatures are
//     denied with a message saying what to change. Otherwise Deny wins over Approve, and
//     when nothing decides, the message names every policy considered and why it did not
//     decide, or says that no policy covers the signer.
//   - Results are deterministic: policies are evaluated in name order, rules in the order
//     they are written, and the first false rule decides.
//
// The package owns approval semantics only. It must not touch the Kubernetes API machinery,
// storage, clocks or the network: it imports k8s.io/api/certificates/v1 for the CSR type
// and pkg/csr to decode the request, so that the approver controller, the API validation of
// ApprovalPolicy and `kcsr policy test` all share it.
package policy
