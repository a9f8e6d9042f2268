#!/bin/sh
# Installs the legacy kustomize exec plugin for RenderMultigres (for `kubectl kustomize`, which
# cannot run exec KRM functions). Usage: install-plugin.sh [PYTHON]
#   PYTHON: the interpreter that has multigres-krmfn installed (default: python3 on PATH).
# The plugin goes to ${XDG_CONFIG_HOME:-$HOME/.config}/kustomize/plugin/<group>/<version>/<kind>/.
set -eu
python=$(command -v "${1:-python3}")
dir=${XDG_CONFIG_HOME:-$HOME/.config}/kustomize/plugin/fn.multigres.com/v1alpha1/rendermultigres
mkdir -p "$dir"
cat >"$dir/RenderMultigres" <<SCRIPT
#!/bin/sh
exec "$python" -m krmfn.plugins kustomize-legacy "\$@"
SCRIPT
chmod 0755 "$dir/RenderMultigres"
echo "installed $dir/RenderMultigres"
