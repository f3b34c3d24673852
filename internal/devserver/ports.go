package devserver

import (
	"fmt"
	"net"
	"runtime"
)

// freePort asks the OS for an unused port on ip. The port is not reserved, so
// it is picked just before the server binds it.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("picking a free port on %s: %w", ip, err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr)
	// Linux hands out random ephemeral ports and may give this one to the next
	// caller as soon as it is closed. Leaving a connection in TIME_WAIT (closed
	// from the listening side) keeps the kernel from reallocating it, while
	// SO_REUSEADDR (Go's default) still lets the server bind it. This is the
	// Temporal CLI's technique; macOS and Windows allocate sequentially.
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		c, err := net.DialTCP("tcp", nil, addr)
		if err != nil {
			return 0, fmt.Errorf("picking a free port on %s: %w", ip, err)
		}
		defer c.Close()
		s, err := l.Accept()
		if err != nil {
			return 0, fmt.Errorf("picking a free port on %s: %w", ip, err)
		}
		s.Close()
	}
	return addr.Port, nil
}

// checkPortFree turns "address in use" into an error we can return: the server
// and the UI would otherwise exit the whole process when their bind fails.
func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", hostPort(ip, port))
	if err != nil {
		return fmt.Errorf("port %d on %s is not free: %w", port, ip, err)
	}
	return l.Close()
}
