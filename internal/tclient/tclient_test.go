package tclient

import "testing"

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7233":               true,
		"127.0.0.2:7233":               true,
		"localhost:7233":               true,
		"[::1]:7233":                   true,
		"10.0.0.5:7233":                false,
		"temporal:7233":                false,
		"my-ns.a1b2c.tmprl.cloud:7233": false,
		"127.0.0.1":                    false, // no port: not an address Dial accepts
		"[::ffff:127.0.0.1]:7233":      true,
		"0.0.0.0:7233":                 false,
		"localhost.example.com:7233":   false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
