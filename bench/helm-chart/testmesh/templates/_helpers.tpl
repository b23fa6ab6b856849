{{/*
Helpers that reproduce what meshctl does in Rust around the Tera chart
(src/render/engine.rs image_ref, src/render/renderset.rs add_labels and
the namespace defaulting), so that this chart's objects equal meshctl's.

Every helper prints JSON (toJson), the counterpart of the Tera chart's
`| json` filter: no value can change the document's structure.
*/}}

{{/*
image_ref(image=..., registry=..., tag=...): `registry/repository@digest`
when a digest is set, else `registry/repository:tag` (the image's tag, or
`tag`, the chart's appVersion). `image.registry` overrides `registry`.
Prints the reference as a JSON string.
Call: include "testmesh.imageRef" (dict "image" $img "registry" $reg "tag" $tag)
*/}}
{{- define "testmesh.imageRef" -}}
{{- $img := .image -}}
{{- if not (kindIs "map" $img) -}}{{- fail "`image_ref` needs `image`, a map" -}}{{- end -}}
{{- $registry := "" -}}
{{- if and (kindIs "string" $img.registry) $img.registry -}}
{{- $registry = $img.registry -}}
{{- else if kindIs "string" .registry -}}
{{- $registry = .registry -}}
{{- end -}}
{{- if not (and (kindIs "string" $img.repository) $img.repository) -}}{{- fail "`image_ref`: image has no `repository`" -}}{{- end -}}
{{- $base := $img.repository -}}
{{- if $registry -}}
{{- $base = printf "%s/%s" (regexReplaceAll "/+$" $registry "") $img.repository -}}
{{- end -}}
{{- if and (kindIs "string" $img.digest) $img.digest -}}
{{- printf "%s@%s" $base $img.digest | toJson -}}
{{- else -}}
{{- $tag := "" -}}
{{- if and (kindIs "string" $img.tag) $img.tag -}}
{{- $tag = $img.tag -}}
{{- else if kindIs "string" .tag -}}
{{- $tag = .tag -}}
{{- else -}}
{{- fail "`image_ref`: image has neither `digest` nor `tag`" -}}
{{- end -}}
{{- printf "%s:%s" $base $tag | toJson -}}
{{- end -}}
{{- end -}}

{{/*
The labels meshctl puts on an object and on its pod template: the
template's own labels (`labels`), then the standard app.kubernetes.io/*
labels, then values.commonLabels, earlier ones winning.
Returns a dict through `.out`.
*/}}
{{- define "testmesh.labelsInto" -}}
{{- $root := .root -}}
{{- $standard := dict
      "app.kubernetes.io/name" $root.Chart.Name
      "app.kubernetes.io/instance" $root.Values.releaseName
      "app.kubernetes.io/version" $root.Chart.AppVersion
      "app.kubernetes.io/part-of" "testmesh"
      "app.kubernetes.io/managed-by" "meshctl" -}}
{{- $own := .labels | default dict -}}
{{- if hasKey $own "app.kubernetes.io/component" -}}
{{- $_ := set $standard "app.kubernetes.io/component" (get $own "app.kubernetes.io/component") -}}
{{- end -}}
{{- $common := $root.Values.commonLabels -}}
{{- if not (kindIs "map" $common) -}}{{- $common = dict -}}{{- end -}}
{{- $labels := deepCopy $own -}}
{{- range $k, $v := $standard -}}
{{- if not (hasKey $labels $k) -}}{{- $_ := set $labels $k $v -}}{{- end -}}
{{- end -}}
{{- range $k, $v := $common -}}
{{- if not (hasKey $labels $k) -}}{{- $_ := set $labels $k $v -}}{{- end -}}
{{- end -}}
{{- $_ := set .out "labels" $labels -}}
{{- end -}}

{{/*
An object's `metadata` as a JSON map: name, namespace (values.namespace,
unless `clusterScoped`), labels (see testmesh.labelsInto) and annotations
(the template's own, if it sets any, plus values.commonAnnotations).
Call: include "testmesh.metadata" (dict "root" $ "name" $name "labels" (dict ...)
        ["annotations" $a] ["clusterScoped" true])
*/}}
{{- define "testmesh.metadata" -}}
{{- $root := .root -}}
{{- $meta := dict "name" .name -}}
{{- if not .clusterScoped -}}
{{- $_ := set $meta "namespace" $root.Values.namespace -}}
{{- end -}}
{{- $tmp := dict -}}
{{- include "testmesh.labelsInto" (dict "root" $root "labels" .labels "out" $tmp) -}}
{{- $_ := set $meta "labels" $tmp.labels -}}
{{- include "testmesh.annotationsInto" (dict "root" $root "ctx" . "meta" $meta) -}}
{{- toJson $meta -}}
{{- end -}}

{{/*
A pod template's `metadata` as a JSON map: labels and, if the template
sets them, annotations, both completed like an object's.
Call: include "testmesh.podMetadata" (dict "root" $ "labels" (dict ...) ["annotations" $a])
*/}}
{{- define "testmesh.podMetadata" -}}
{{- $root := .root -}}
{{- $meta := dict -}}
{{- $tmp := dict -}}
{{- include "testmesh.labelsInto" (dict "root" $root "labels" .labels "out" $tmp) -}}
{{- $_ := set $meta "labels" $tmp.labels -}}
{{- include "testmesh.annotationsInto" (dict "root" $root "ctx" . "meta" $meta) -}}
{{- toJson $meta -}}
{{- end -}}

{{/*
meshctl adds values.commonAnnotations (without overriding) when there are
any; otherwise a template's annotations stay exactly as written (even null).
*/}}
{{- define "testmesh.annotationsInto" -}}
{{- $common := .root.Values.commonAnnotations -}}
{{- if not (kindIs "map" $common) -}}{{- $common = dict -}}{{- end -}}
{{- $has := hasKey .ctx "annotations" -}}
{{- if $common -}}
{{- $own := dict -}}
{{- if and $has (kindIs "map" .ctx.annotations) -}}{{- $own = deepCopy .ctx.annotations -}}{{- end -}}
{{- range $k, $v := $common -}}
{{- if not (hasKey $own $k) -}}{{- $_ := set $own $k $v -}}{{- end -}}
{{- end -}}
{{- $_ := set .meta "annotations" $own -}}
{{- else if $has -}}
{{- $_ := set .meta "annotations" .ctx.annotations -}}
{{- end -}}
{{- end -}}
