{{/*
One define per resource name, truncated to 63 characters (the DNS label limit),
so other charts can include the names instead of hard-coding them.
*/}}

{{/*
The release's base name: fullnameOverride, or the release name (when it already
contains the chart name), or "<release>-<chart>".
Usage: {{ include "batch.fullname" . }}
*/}}
{{- define "batch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
A name derived from the base name: "<fullname>-<suffix>", within 63 characters.
Usage: {{ include "batch.suffixed" (dict "suffix" "cm" "context" $) }}
*/}}
{{- define "batch.suffixed" -}}
{{- $suffix := printf "-%s" .suffix -}}
{{- printf "%s%s" (include "batch.fullname" .context | trunc (int (sub 63 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end }}

{{/*
Queue mode: the workload manager's ServiceAccount (also the Role and RoleBinding name).
Usage: {{ include "batch.submitter.name" . }}
*/}}
{{- define "batch.submitter.name" -}}
{{- include "batch.suffixed" (dict "suffix" "submitter" "context" .) -}}
{{- end }}

{{/*
Queue mode with queue.harvester: the Secret PanDA Harvester's credential manager keeps the
pilots' proxy in. Its name is Harvester's default (secret_name), not derived from the
release: Harvester's job YAML and credential manager expect it.
Usage: {{ include "batch.harvesterProxy.name" . }}
*/}}
{{- define "batch.harvesterProxy.name" -}}
proxy-secret
{{- end }}

{{/*
Queue mode: the ConfigMap holding the example Job manifest.
Usage: {{ include "batch.jobTemplate.name" . }}
*/}}
{{- define "batch.jobTemplate.name" -}}
{{- include "batch.suffixed" (dict "suffix" "job-template" "context" .) -}}
{{- end }}

{{/*
The ResourceQuota and LimitRange of the batch namespace.
Usage: {{ include "batch.budget.name" . }}
*/}}
{{- define "batch.budget.name" -}}
{{- include "batch.suffixed" (dict "suffix" "budget" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the central manager (collector, negotiator) Deployment and Service.
Usage: {{ include "batch.cm.fullname" . }}
*/}}
{{- define "batch.cm.fullname" -}}
{{- include "batch.suffixed" (dict "suffix" "cm" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the access point (schedd) StatefulSet and its headless Service.
Usage: {{ include "batch.submit.fullname" . }}
*/}}
{{- define "batch.submit.fullname" -}}
{{- include "batch.suffixed" (dict "suffix" "submit" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the execute workers (startd) Deployment.
Usage: {{ include "batch.execute.fullname" . }}
*/}}
{{- define "batch.execute.fullname" -}}
{{- include "batch.suffixed" (dict "suffix" "execute" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the ConfigMap of condor configuration files.
Usage: {{ include "batch.condorConfig.name" . }}
*/}}
{{- define "batch.condorConfig.name" -}}
{{- include "batch.suffixed" (dict "suffix" "condor-config" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the Secret holding the pool password.
Usage: {{ include "batch.poolPassword.secretName" . }}
*/}}
{{- define "batch.poolPassword.secretName" -}}
{{- include "batch.suffixed" (dict "suffix" "pool-password" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the Secret holding the IDTOKENS signing key.
Usage: {{ include "batch.signingKey.secretName" . }}
*/}}
{{- define "batch.signingKey.secretName" -}}
{{- include "batch.suffixed" (dict "suffix" "token-signing-key" "context" .) -}}
{{- end }}

{{/*
HTCondor mode: the DNS name of the central manager, the pool's CONDOR_HOST.
Usage: {{ include "batch.condorHost" . }}
*/}}
{{- define "batch.condorHost" -}}
{{- printf "%s.%s.svc.%s" (include "batch.cm.fullname" .) (include "batch.namespace" .) .Values.clusterDomain -}}
{{- end }}

{{/*
The namespace every object of the chart goes to: `namespaceOverride`, else the
release's. The override lets the site umbrella, installed in its own namespace,
put the batch connector in the batch namespace site-base creates.
Usage: {{ include "batch.namespace" . }}
*/}}
{{- define "batch.namespace" -}}
{{- .Values.namespaceOverride | default .Release.Namespace -}}
{{- end }}

{{/*
Accounting: the ServiceAccount, Role and RoleBinding of the accounting CronJobs, and the
prefix of their names.
Usage: {{ include "batch.accounting.name" . }}
*/}}
{{- define "batch.accounting.name" -}}
{{- include "batch.suffixed" (dict "suffix" "accounting" "context" .) -}}
{{- end }}

{{/*
Accounting: the ledger ConfigMap `sitebox accounting collect` keeps. Its name is
sitebox's (bootstrap/sitebox/accounting/ledger.py), not derived from the release: the
command looks for it there.
Usage: {{ include "batch.accounting.ledger" . }}
*/}}
{{- define "batch.accounting.ledger" -}}
sitebox-accounting
{{- end }}
