package contract

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var objectBehaviours = []Behaviour{
	{"ImageTagAndRemove", imageTagAndRemove},
	{"ImageInUse", imageInUse},
	{"Networks", networks},
	{"NetworkInUse", networkInUse},
	{"Volumes", volumes},
	{"ImagesPrune", imagesPrune},
	{"SystemDiskUsage", systemDiskUsage},
}

func imageTagAndRemove(t *testing.T, e *Engine) {
	repo := Unique("tag")
	e.Expect(http.StatusCreated, "", "POST", "/images/busybox:latest/tag?repo="+repo+"&tag=v1", nil)
	t.Cleanup(func() { e.Do("DELETE", "/images/"+repo+":v1", nil) })
	var img, busybox struct {
		Id       string
		RepoTags []string
	}
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/images/"+repo+":v1/json", nil), &img)
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/images/busybox:latest/json", nil), &busybox)
	assert.Equal(t, busybox.Id, img.Id)
	assert.Contains(t, img.RepoTags, repo+":v1")

	e.Expect(notFound, "No such image: "+repo+":nosuch", "POST", "/images/"+repo+":nosuch/tag?repo="+repo+"&tag=v2", nil)
	e.Expect(badRequest, `invalid reference format: image reference "`+repo+`X:v2": name "`+repo+`X": invalid character 'X' (names are lowercase)`, "POST", "/images/busybox:latest/tag?repo="+repo+"X&tag=v2", nil)

	// Removing one of two names untags only.
	var gone []map[string]string
	e.Decode(e.Expect(http.StatusOK, "", "DELETE", "/images/"+repo+":v1", nil), &gone)
	assert.Equal(t, []map[string]string{{"Untagged": repo + ":v1"}}, gone)
	e.Expect(notFound, "No such image: "+repo+":v1", "DELETE", "/images/"+repo+":v1", nil)
	e.Expect(notFound, "No such image: "+repo+":v1", "GET", "/images/"+repo+":v1/json", nil)
}

// The last name of an image a container uses is not removed without
// force.
func imageInUse(t *testing.T, e *Engine) {
	repo := Unique("used")
	src := e.Create("", "true")
	var out struct{ Id string }
	e.Decode(e.Expect(http.StatusCreated, "", "POST", "/commit?container="+src+"&repo="+repo+"&tag=v1", map[string]any{}), &out)
	t.Cleanup(func() { e.Do("DELETE", "/images/"+out.Id+"?force=1", nil) })
	user := e.CreateWith("", map[string]any{"Image": repo + ":v1", "Cmd": []string{"true"}, "HostConfig": map[string]any{"NetworkMode": "none"}})
	a := e.Do("DELETE", "/images/"+repo+":v1", nil)
	require.Equal(t, conflict, a.Status, "%s", a.Body)
	assert.Equal(t, `conflict: unable to remove repository reference "`+repo+`:v1" (must force) - container `+user[:12]+` is using its referenced image `+out.Id[7:19], a.Message)
	a = e.Do("DELETE", "/images/"+out.Id, nil)
	assert.Equal(t, conflict, a.Status, "%s", a.Body)
	assert.Equal(t, "conflict: unable to delete "+out.Id[7:19]+" (must be forced) - image is being used by container "+user[:12], a.Message)
	e.Expect(http.StatusOK, "", "DELETE", "/images/"+repo+":v1?force=1", nil)
	e.Expect(notFound, "No such image: nosuch-"+repo, "DELETE", "/images/nosuch-"+repo, nil)
}

func networks(t *testing.T, e *Engine) {
	name := Unique("net")
	var out struct{ Id string }
	e.Decode(e.Expect(http.StatusCreated, "", "POST", "/networks/create", map[string]any{"Name": name}), &out)
	t.Cleanup(func() { e.Do("DELETE", "/networks/"+out.Id, nil) })
	e.Expect(conflict, "creating network "+name+": network with name "+name+" already exists: network exists", "POST", "/networks/create", map[string]any{"Name": name})
	// What berth does not apply is refused by name, on both engines
	// alike (api.CheckNetworkCreate), and nothing is created.
	for _, c := range []struct {
		msg string
		req map[string]any
	}{
		{`network driver "overlay" is not supported: berth has the bridge driver only`, map[string]any{"Driver": "overlay"}},
		{`network scope "swarm" is not supported: berth's networks are local`, map[string]any{"Scope": "swarm"}},
		{"EnableIPv6 is not supported: berth's networks are IPv4 only", map[string]any{"EnableIPv6": true}},
		{"Ingress is not supported: berth has no swarm", map[string]any{"Ingress": true}},
		{"network option com.docker.network.bridge.enable_icc is not supported (berth applies com.docker.network.bridge.name only)",
			map[string]any{"Options": map[string]string{"com.docker.network.bridge.enable_icc": "false"}}},
		{`IPAM driver "dhcp" is not supported`, map[string]any{"IPAM": map[string]any{"Driver": "dhcp"}}},
		{"only one IPAM config (one IPv4 subnet) is supported, not 2", map[string]any{"IPAM": map[string]any{"Config": []map[string]string{{"Subnet": "10.231.1.0/24"}, {"Subnet": "10.231.2.0/24"}}}}},
		{"IPAM auxiliary addresses are not supported", map[string]any{"IPAM": map[string]any{"Config": []map[string]any{{"Subnet": "10.231.3.0/24", "AuxiliaryAddresses": map[string]string{"a": "10.231.3.9"}}}}}},
		{"network name is required", map[string]any{}},
	} {
		if _, ok := c.req["Name"]; !ok && c.msg != "network name is required" {
			c.req["Name"] = name + "x"
		}
		e.Expect(badRequest, c.msg, "POST", "/networks/create", c.req)
	}
	e.Expect(notFound, "network "+name+"x not found", "GET", "/networks/"+name+"x", nil)
	var inspect struct{ Name, Id, Driver string }
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/networks/"+name, nil), &inspect)
	assert.Equal(t, name, inspect.Name)
	assert.Equal(t, out.Id, inspect.Id)
	assert.Equal(t, "bridge", inspect.Driver)
	e.Expect(http.StatusForbidden, "bridge is a pre-defined network and cannot be removed", "DELETE", "/networks/bridge", nil)
	e.Expect(noContent, "", "DELETE", "/networks/"+name, nil)
	e.Expect(notFound, "network "+name+" not found", "DELETE", "/networks/"+name, nil)
	e.Expect(notFound, "network "+name+" not found", "GET", "/networks/"+name, nil)
}

// A network with a running container on it cannot be removed.
func networkInUse(t *testing.T, e *Engine) {
	name := Unique("net")
	var out struct{ Id string }
	e.Decode(e.Expect(http.StatusCreated, "", "POST", "/networks/create", map[string]any{"Name": name}), &out)
	t.Cleanup(func() { e.Do("DELETE", "/networks/"+out.Id, nil) })
	id := e.CreateWith("", map[string]any{"Image": "busybox:latest", "Cmd": []string{"sleep", "1000"},
		"HostConfig": map[string]any{"NetworkMode": name}})
	e.Expect(noContent, "", "POST", "/containers/"+id+"/start", nil)
	a := e.Do("DELETE", "/networks/"+name, nil)
	assert.Equal(t, conflict, a.Status, "%s", a.Body)
	assert.Equal(t, "error while removing network: network "+name+" id "+out.Id+" has active endpoints ("+id[:12]+"): network has active endpoints", a.Message)
	e.Expect(noContent, "", "DELETE", "/containers/"+id+"?force=1", nil)
	e.Expect(noContent, "", "DELETE", "/networks/"+name, nil)
}

func volumes(t *testing.T, e *Engine) {
	name := Unique("vol")
	var v struct{ Name, Driver string }
	e.Decode(e.Expect(http.StatusCreated, "", "POST", "/volumes/create", map[string]any{"Name": name, "Labels": map[string]string{"a": "1"}}), &v)
	t.Cleanup(func() { e.Do("DELETE", "/volumes/"+name+"?force=1", nil) })
	assert.Equal(t, name, v.Name)
	assert.Equal(t, "local", v.Driver)
	// Creating it again returns it as it is.
	e.Expect(http.StatusCreated, "", "POST", "/volumes/create", map[string]any{"Name": name})
	e.Expect(badRequest, `volume driver "nfs" is not supported: berth has the local driver`, "POST", "/volumes/create", map[string]any{"Name": name + "x", "Driver": "nfs"})

	id := e.CreateWith("", map[string]any{"Image": "busybox:latest", "Cmd": []string{"true"},
		"HostConfig": map[string]any{"NetworkMode": "none", "Binds": []string{name + ":/data"}}})
	e.Expect(conflict, "remove "+name+": volume is in use - ["+id+"]", "DELETE", "/volumes/"+name, nil)
	e.Expect(noContent, "", "DELETE", "/containers/"+id, nil)
	e.Expect(noContent, "", "DELETE", "/volumes/"+name, nil)
	e.Expect(notFound, "get "+name+": no such volume", "GET", "/volumes/"+name, nil)
	e.Expect(notFound, "get "+name+": no such volume", "DELETE", "/volumes/"+name, nil)
	e.Expect(noContent, "", "DELETE", "/volumes/"+name+"?force=1", nil)
}

// docker image prune -a --filter label=L: the images with the label that
// no container uses go, the used one stays.
func imagesPrune(t *testing.T, e *Engine) {
	label := Unique("prune")
	src := e.Create("", "true")
	commit := func(repo string) string {
		var out struct{ Id string }
		e.Decode(e.Expect(http.StatusCreated, "", "POST", "/commit?container="+src+"&repo="+repo+"&tag=v1",
			map[string]any{"Labels": map[string]string{label: "1"}}), &out)
		t.Cleanup(func() { e.Do("DELETE", "/images/"+out.Id+"?force=1", nil) })
		return out.Id
	}
	used, unused := commit(label+"-used"), commit(label+"-unused")
	e.CreateWith("", map[string]any{"Image": label + "-used:v1", "Cmd": []string{"true"}, "HostConfig": map[string]any{"NetworkMode": "none"}})
	var report struct {
		ImagesDeleted []map[string]string
	}
	e.Decode(e.Expect(http.StatusOK, "", "POST", "/images/prune?filters="+q(`{"dangling":["false"],"label":["`+label+`"]}`), nil), &report)
	require.NotEmpty(t, report.ImagesDeleted)
	assert.Equal(t, map[string]string{"Untagged": label + "-unused:v1"}, report.ImagesDeleted[0])
	assert.Contains(t, report.ImagesDeleted, map[string]string{"Deleted": unused})
	assert.NotContains(t, report.ImagesDeleted, map[string]string{"Deleted": used})
	e.Expect(http.StatusOK, "", "GET", "/images/"+used+"/json", nil)
	e.Expect(notFound, "No such image: "+unused, "GET", "/images/"+unused+"/json", nil)
	e.Expect(badRequest, "Invalid filter 'nosuch'", "POST", "/images/prune?filters="+q(`{"nosuch":["x"]}`), nil)
}

// docker system df: a volume's users are counted.
func systemDiskUsage(t *testing.T, e *Engine) {
	vol := Unique("df")
	e.Expect(http.StatusCreated, "", "POST", "/volumes/create", map[string]any{"Name": vol})
	t.Cleanup(func() { e.Do("DELETE", "/volumes/"+vol+"?force=1", nil) })
	id := e.CreateWith("", map[string]any{"Image": "busybox:latest", "Cmd": []string{"true"},
		"HostConfig": map[string]any{"NetworkMode": "none", "Binds": []string{vol + ":/data"}}})
	var df struct {
		Volumes []struct {
			Name      string
			UsageData struct{ RefCount int64 }
		}
		Containers []struct{ Id string }
		Images     []struct{ RepoTags []string }
	}
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/system/df", nil), &df)
	refs := int64(-1)
	for _, v := range df.Volumes {
		if v.Name == vol {
			refs = v.UsageData.RefCount
		}
	}
	assert.Equal(t, int64(1), refs, "the volume is listed with its one user")
	assert.True(t, slices.ContainsFunc(df.Containers, func(c struct{ Id string }) bool { return c.Id == id }))
	assert.True(t, slices.ContainsFunc(df.Images, func(i struct{ RepoTags []string }) bool { return slices.Contains(i.RepoTags, "busybox:latest") }))
}
