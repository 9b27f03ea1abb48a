// Package detachkeys is the detach key sequence of docker attach, run -it
// and exec -it: the keys (ctrl-p ctrl-q unless --detach-keys says
// otherwise) that leave a container running and give the terminal back.
//
// Both ends watch for it. The client (berth attach) stops sending and
// says "read escape sequence"; the daemon, which docker's own client
// leaves the job to, ends the attachment when the sequence arrives on the
// container's stdin. One Parse and one Reader serve both, so that the
// two ends cannot disagree on which keys detach.
//
//	typed:     l s \r ^P x ^P ^Q
//	passed on: l s \r ^P x         (^P held back until x shows it was
//	                                not the start of the sequence)
//	then:      the caller's "detached" error
package detachkeys
