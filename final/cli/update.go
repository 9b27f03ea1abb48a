package cli

import (
	"errors"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/final/restart"
)

// update: one API call per container, as docker update. berthd updates
// the restart policy; the flag is the only one berth offers, since a
// resource berthd does not update would be refused by the engine anyway.

func newUpdateCommand(c *CLI) *cobra.Command {
	var policy string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Long: `Update configuration of one or more containers, running or not.

--restart sets the container's restart policy: no, on-failure[:N],
always or unless-stopped (see berth run --restart). The new policy
applies from the container's next exit on; a restart already waiting
for its back-off goes ahead. A container run with --rm cannot have one.`,
		Args: requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			p, err := restart.Parse(policy)
			if err != nil {
				return err
			}
			return c.eachContainer(cmd, args, func(cl *client.Client, name string) error {
				_, err := cl.ContainerUpdate(cmd.Context(), name, client.ContainerUpdateOptions{RestartPolicy: &p})
				return err
			})
		},
	}
	cmd.Flags().StringVar(&policy, "restart", "", "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)")
	return cmd
}
