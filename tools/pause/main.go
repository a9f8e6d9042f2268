// Command pause is the sandbox ("pause") container of the test node: it holds a
// pod's namespaces open, reaps zombies when it is PID 1 of a shared PID
// namespace, and exits on SIGINT or SIGTERM. The node has no registry to pull
// the usual pause image from, so tools/images.sh builds this one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
