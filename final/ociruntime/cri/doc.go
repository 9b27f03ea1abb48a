// Package cri proves berth-runtime under Kubernetes' Container Runtime
// Interface. (Package documentation written with the harness.)
package cri
