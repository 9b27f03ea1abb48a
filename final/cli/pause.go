package cli

import (
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// pause and unpause: one API call per container named, like kill.

func newPauseCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Long: `Pause all processes within one or more containers.

Every process of the container is frozen (the cgroup freezer): it stops
where it stands, without being sent a signal, so it cannot notice, catch
or ignore the pause. It keeps its memory, its files and its network
endpoint, and goes on from the same instruction after berth unpause. ps
shows it as "Up ... (Paused)". A paused container cannot be exec'd into;
stop, kill and rm -f end it as they would a running one.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerPause(cmd.Context(), name, client.ContainerPauseOptions{})
				return err
			})
		},
	}
}

func newUnpauseCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Long: `Unpause all processes within one or more containers: the processes that
berth pause froze run again, from where they stopped.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerUnpause(cmd.Context(), name, client.ContainerUnpauseOptions{})
				return err
			})
		},
	}
}
