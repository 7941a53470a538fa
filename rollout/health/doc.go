// Package health checks one backend of a service over and over and decides,
// with hysteresis, whether it is healthy: one slow answer does not take a
// version out of a rollout, and one lucky answer does not put a failing
// one back.
//
// A Checker runs a Probe (an HTTP GET that must answer 2xx, or a command
// that must exit 0) every Interval; FailureThreshold failures in a row make
// a healthy backend unhealthy, SuccessThreshold passes in a row make an
// unhealthy one healthy. A new Checker starts unhealthy: a backend has to
// pass before it counts.
package health
