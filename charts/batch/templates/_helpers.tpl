{{/*
Helpers for the batch chart: labels here, resource names in _names.tpl,
quantities in _quantity.tpl, render-time checks in _validate.tpl.

Most helpers take the root context (`.`). A helper that needs more takes a dict
with a "context" key holding the root, e.g.
  {{ include "batch.componentLabels" (dict "component" "cm" "context" $) }}
*/}}

{{/*
The chart name, truncated to 63 characters (the DNS label limit).
Usage: {{ include "batch.name" . }}
*/}}
{{- define "batch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The chart name and version, as used by the helm.sh/chart label.
Usage: {{ include "batch.chart" . }}
*/}}
{{- define "batch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: only name and instance, because selectors are immutable.
Usage: {{ include "batch.selectorLabels" . | nindent 4 }}
*/}}
{{- define "batch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "batch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Metadata labels for every object this chart renders.
Usage: labels: {{- include "batch.labels" . | nindent 4 }}
*/}}
{{- define "batch.labels" -}}
helm.sh/chart: {{ include "batch.chart" . }}
{{ include "batch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sitebox
{{- end }}

{{/*
Selector labels of one component (cm, submit, execute).
Usage: {{ include "batch.componentSelectorLabels" (dict "component" "cm" "context" $) | nindent 6 }}
*/}}
{{- define "batch.componentSelectorLabels" -}}
{{ include "batch.selectorLabels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Metadata labels of one component: the chart's labels plus the component.
Usage: labels: {{- include "batch.componentLabels" (dict "component" "cm" "context" $) | nindent 4 }}
*/}}
{{- define "batch.componentLabels" -}}
{{ include "batch.labels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
An image reference "registry/repository:tag" from a component's image block.
Usage: image: {{ include "batch.image" (dict "image" .Values.htcondor.cm.image "context" $) }}
*/}}
{{- define "batch.image" -}}
{{- $registry := .image.registry | default .context.Values.htcondor.imageRegistry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository .image.tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository .image.tag -}}
{{- end -}}
{{- end }}

{{/*
A Secret value kept across upgrades: the supplied value if any, else the value
already stored in the live Secret (lookup), else a fresh random one. So a plain
`helm upgrade` never rotates it. Outputs the base64-encoded value.
Usage: {{ include "batch.keptSecret" (dict "name" "x" "key" "password" "value" .Values.y "context" $) }}
*/}}
{{- define "batch.keptSecret" -}}
{{- if .value -}}
{{- .value | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" (include "batch.namespace" .context) .name -}}
{{- if and $existing (hasKey ($existing.data | default dict) .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
The pod and container security settings of the HTCondor daemons.
The htcondor images start as root and condor_master drops privileges to the
condor user itself, so runAsNonRoot cannot be set; instead privilege escalation
is off and only the capabilities needed to switch users are kept.
Usage: securityContext: {{- include "batch.htcondor.securityContext" . | nindent 12 }}
*/}}
{{- define "batch.htcondor.securityContext" -}}
{{- toYaml .Values.htcondor.securityContext }}
{{- end }}

{{/*
The ephemeral-storage of one job: job.ephemeralStorage plus job.scratch.sizeLimit,
in Mi, because the kubelet counts the scratch emptyDir against the pod's ephemeral storage.
Usage: ephemeral-storage: {{ include "batch.job.ephemeralStorage" . }}
*/}}
{{- define "batch.job.ephemeralStorage" -}}
{{- $own := include "batch.quantity" (dict "value" .Values.job.ephemeralStorage "key" "job.ephemeralStorage") | float64 -}}
{{- $scratch := include "batch.quantity" (dict "value" .Values.job.scratch.sizeLimit "key" "job.scratch.sizeLimit") | float64 -}}
{{- printf "%dMi" (divf (addf $own $scratch) 1048576.0 | ceil | int64) -}}
{{- end }}

{{/*
Requests = limits of one job, as a resources block.
Usage: resources: {{- include "batch.job.resources" . | nindent 12 }}
*/}}
{{- define "batch.job.resources" -}}
{{- $amounts := dict "cpu" (toString .Values.job.cpu) "memory" (toString .Values.job.memory) "ephemeral-storage" (include "batch.job.ephemeralStorage" .) -}}
{{- toYaml (dict "requests" $amounts "limits" $amounts) }}
{{- end }}

{{/*
Resources of one execute worker: htcondor.workers.resources, or those of one job.
Usage: resources: {{- include "batch.execute.resources" . | nindent 12 }}
*/}}
{{- define "batch.execute.resources" -}}
{{- if .Values.htcondor.workers.resources -}}
{{- toYaml .Values.htcondor.workers.resources }}
{{- else -}}
{{- include "batch.job.resources" . }}
{{- end -}}
{{- end }}

{{/*
The CVMFS volume: the claim, read-only. Include only when cvmfs.enabled.
Usage: {{- if .Values.cvmfs.enabled }}{{- include "batch.cvmfs.volume" . | nindent 8 }}{{- end }}
*/}}
{{- define "batch.cvmfs.volume" -}}
- name: cvmfs
  persistentVolumeClaim:
    claimName: {{ .Values.cvmfs.claimName }}
    readOnly: true
{{- end }}

{{/*
The CVMFS mount at /cvmfs, read-only, with HostToContainer propagation so that
repositories the CSI driver mounts later appear in running containers.
Include only when cvmfs.enabled.
Usage: {{- if .Values.cvmfs.enabled }}{{- include "batch.cvmfs.mount" . | nindent 12 }}{{- end }}
*/}}
{{- define "batch.cvmfs.mount" -}}
- name: cvmfs
  mountPath: /cvmfs
  readOnly: true
  mountPropagation: HostToContainer
{{- end }}

{{/*
Accounting: the pod securityContext of the accounting CronJobs. fsGroup makes the
mounted host key readable to the (non-root) sender through its group.
Usage: {{ include "batch.accounting.podSecurity" . | nindent 12 }}
*/}}
{{- define "batch.accounting.podSecurity" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Accounting: the containers' securityContext.
Usage: {{ include "batch.accounting.containerSecurity" . | nindent 16 }}
*/}}
{{- define "batch.accounting.containerSecurity" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end }}
