package filters_test

import (
	"fmt"

	"github.com/berth-project/berth/final/filters"
)

// Compose asks for the containers of one service of one project.
func Example() {
	args, _ := filters.Parse(`{"label":{"com.docker.compose.project=shop":true,"com.docker.compose.service=web":true}}`)
	web := map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
	db := map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "db"}
	fmt.Println(args.Labels(web), args.Labels(db))
	// Output: true false
}
