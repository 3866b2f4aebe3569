// Package probe proves a sandbox policy from the inside: it spawns a child
// that enters the policy exactly as the real role would, makes it attempt one
// action, and reports what the kernel did (the errno, or the kill by
// seccomp). One child per action, because a forbidden syscall kills the
// child under a kill-process seccomp default.
//
// [Battery] is the generic list of forbidden actions that any role of any
// program built on package sandbox must be refused; programs add their own
// allowed "control" actions per role, which must succeed.
package probe
