// Package e2e holds tests that need a real Temporal server, embedded in the
// test process. Journey logic is tested with time skipping in workflows/;
// these tests cover what only a server shows: real histories, search
// attributes, update rejections that leave no trace.
package e2e
