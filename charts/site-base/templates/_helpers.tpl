{{/*
Helpers for the site-base chart, one concern per define.

Most helpers take the root context (`.`). A helper that needs more than that
takes a dict with a "context" key holding the root, e.g.
  {{ include "site-base.namespaceName" (dict "key" "hub" "context" $) }}
*/}}

{{/*
The chart name, truncated to 63 characters (the DNS label limit).
Usage: {{ include "site-base.name" . }}
*/}}
{{- define "site-base.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The chart name and version, as used by the helm.sh/chart label.
Usage: {{ include "site-base.chart" . }}
*/}}
{{- define "site-base.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: only name and instance, because selectors are immutable.
Usage: {{ include "site-base.selectorLabels" . | nindent 4 }}
*/}}
{{- define "site-base.selectorLabels" -}}
app.kubernetes.io/name: {{ include "site-base.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Metadata labels for every object this chart renders.
Usage: labels: {{- include "site-base.labels" . | nindent 4 }}
*/}}
{{- define "site-base.labels" -}}
helm.sh/chart: {{ include "site-base.chart" . }}
{{ include "site-base.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sitebox
{{- end }}

{{/*
The Kubernetes name of a namespace entry: its `name`, or its key in `namespaces`.
Usage: {{ include "site-base.namespaceName" (dict "key" "hub" "context" $) }}
*/}}
{{- define "site-base.namespaceName" -}}
{{- $ns := index .context.Values.namespaces .key -}}
{{- default .key $ns.name }}
{{- end }}

{{/*
The name of one sitebox priority class: "<prefix>-<tier>".
Usage: {{ include "site-base.priorityClassName" (dict "tier" "production" "context" $) }}
*/}}
{{- define "site-base.priorityClassName" -}}
{{- printf "%s-%s" .context.Values.priorityClasses.prefix .tier | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The names of all sitebox priority classes as a JSON list, highest first;
other charts' `priorityClasses` lists should hold the same names.
Usage: {{ include "site-base.priorityClassNames" . | fromJsonArray }}
*/}}
{{- define "site-base.priorityClassNames" -}}
{{- $names := list -}}
{{- range $tier := list "production" "analysis" "opportunistic" -}}
{{- $names = append $names (include "site-base.priorityClassName" (dict "tier" $tier "context" $)) -}}
{{- end -}}
{{- toJson $names }}
{{- end }}

{{/*
The keys of the enabled namespace entries, sorted, as a JSON list.
Usage: {{ range (include "site-base.enabledNamespaces" . | fromJsonArray) }}...{{ end }}
*/}}
{{- define "site-base.enabledNamespaces" -}}
{{- $keys := list -}}
{{- range $key, $ns := .Values.namespaces -}}
{{- if $ns.enabled -}}
{{- $keys = append $keys $key -}}
{{- end -}}
{{- end -}}
{{- toJson $keys }}
{{- end }}

{{/*
Render-time checks the schema cannot express; fails with the key and the fix.
Usage: {{ include "site-base.validate" . }}
*/}}
{{- define "site-base.validate" -}}
{{- $seen := dict -}}
{{- range $key, $ns := .Values.namespaces -}}
{{- if $ns.enabled -}}
{{- $name := include "site-base.namespaceName" (dict "key" $key "context" $) -}}
{{- if hasKey $seen $name -}}
{{- fail (printf "namespaces.%s.name: namespace %q is also used by namespaces.%s; give each entry its own name" $key $name (get $seen $name)) -}}
{{- end -}}
{{- $_ := set $seen $name $key -}}
{{- range $from := ($ns.allowFrom | default list) -}}
{{- if not (hasKey $.Values.namespaces $from) -}}
{{- fail (printf "namespaces.%s.allowFrom: %q is not a key of namespaces (known: %s); list keys of the namespaces map, e.g. hub" $key $from (keys $.Values.namespaces | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end }}
