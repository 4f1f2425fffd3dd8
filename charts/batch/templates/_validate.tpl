{{/*
Render-time checks that the schema cannot express. Each failure names the
value and says how to fix it. Included once, from templates/validate.yaml.
Usage: {{ include "batch.validate" . }}
*/}}
{{- define "batch.validate" -}}
{{- $job := .Values.job -}}
{{- /* one job must fit into the namespace quota */ -}}
{{- range $pair := list (list "cpu" "requests.cpu") (list "memory" "requests.memory") (list "cpu" "limits.cpu") (list "memory" "limits.memory") -}}
{{- $field := index $pair 0 -}}
{{- $resource := index $pair 1 -}}
{{- if hasKey ($.Values.quota | default dict) $resource -}}
{{- $need := include "batch.quantity" (dict "value" (index $job $field) "key" (printf "job.%s" $field)) | float64 -}}
{{- $have := include "batch.quantity" (dict "value" (index $.Values.quota $resource) "key" (printf "quota.%s" $resource)) | float64 -}}
{{- if gt $need $have -}}
{{- fail (printf "quota.%s (%v) is smaller than one job's request job.%s (%v): no job could ever start; raise quota.%s or lower job.%s" $resource (index $.Values.quota $resource) $field (index $job $field) $resource $field) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* one job must be allowed by the LimitRange's max */ -}}
{{- $max := (.Values.limits | default dict).max | default dict -}}
{{- $jobAmounts := dict "cpu" (list $job.cpu "job.cpu") "memory" (list $job.memory "job.memory") "ephemeral-storage" (list (include "batch.job.ephemeralStorage" .) "job.ephemeralStorage + job.scratch.sizeLimit") -}}
{{- range $resource, $pair := $jobAmounts -}}
{{- if hasKey $max $resource -}}
{{- $need := include "batch.quantity" (dict "value" (index $pair 0) "key" (index $pair 1)) | float64 -}}
{{- $have := include "batch.quantity" (dict "value" (index $max $resource) "key" (printf "limits.max.%s" $resource)) | float64 -}}
{{- if gt $need $have -}}
{{- fail (printf "limits.max.%s (%v) is smaller than one job's %s (%v): the LimitRange would reject every job; raise limits.max.%s or lower %s" $resource (index $max $resource) (index $pair 1) (index $pair 0) $resource (index $pair 1)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* the job's priority class must be one the site defines */ -}}
{{- if not (has $job.priorityClassName .Values.priorityClasses) -}}
{{- fail (printf "job.priorityClassName %q is not one of priorityClasses [%s]; set job.priorityClassName to one of them, or add it to priorityClasses if the cluster defines it" $job.priorityClassName (join ", " .Values.priorityClasses)) -}}
{{- end -}}
{{- if eq .Values.mode "htcondor" -}}
{{- $workers := .Values.htcondor.workers.count | int -}}
{{- if lt $workers 1 -}}
{{- fail (printf "htcondor.workers.count is %d; an HTCondor pool needs at least 1 execute worker: set htcondor.workers.count to 1 or more" $workers) -}}
{{- end -}}
{{- /* the whole pool must fit into the namespace quota */ -}}
{{- $worker := include "batch.execute.resources" . | fromYaml -}}
{{- range $kind := list "requests" "limits" -}}
{{- range $resource := list "cpu" "memory" -}}
{{- $quotaKey := printf "%s.%s" $kind $resource -}}
{{- if hasKey ($.Values.quota | default dict) $quotaKey -}}
{{- $total := 0.0 -}}
{{- range $part := list "cm" "submit" -}}
{{- $amount := index (index (index $.Values.htcondor $part).resources $kind | default dict) $resource -}}
{{- if $amount -}}
{{- $total = addf $total (include "batch.quantity" (dict "value" $amount "key" (printf "htcondor.%s.resources.%s.%s" $part $kind $resource)) | float64) -}}
{{- end -}}
{{- end -}}
{{- $each := index (index $worker $kind | default dict) $resource -}}
{{- if $each -}}
{{- $total = addf $total (mulf $workers (include "batch.quantity" (dict "value" $each "key" (printf "htcondor.workers.resources.%s.%s" $kind $resource)) | float64)) -}}
{{- end -}}
{{- $have := include "batch.quantity" (dict "value" (index $.Values.quota $quotaKey) "key" (printf "quota.%s" $quotaKey)) | float64 -}}
{{- if gt $total $have -}}
{{- $shown := ternary (printf "%.2f CPUs" $total) (printf "%.1fGi" (divf $total 1073741824.0)) (eq $resource "cpu") -}}
{{- fail (printf "quota.%s (%v) is smaller than the HTCondor pool's %s (%s for the central manager, the access point and %d workers); raise quota.%s or lower htcondor.workers.count" $quotaKey (index $.Values.quota $quotaKey) $kind $shown $workers $quotaKey) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key := list "poolPassword" "tokenSigningKey" -}}
{{- $secret := index $.Values.htcondor $key | default "" -}}
{{- if and $secret (lt (len $secret) 16) -}}
{{- fail (printf "htcondor.%s is %d characters long; it must have at least 16: supply a longer one, or leave it empty to have one generated and kept" $key (len $secret)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* accounting reads the Jobs of queue mode, and needs what APEL's records carry */ -}}
{{- $acct := .Values.accounting | default dict -}}
{{- if $acct.enabled -}}
{{- if ne .Values.mode "queue" -}}
{{- fail "accounting.enabled needs mode: queue (it accounts the namespace's Kubernetes Jobs; an HTCondor pool keeps its own accounting): set mode to queue or accounting.enabled to false" -}}
{{- end -}}
{{- range $key := list "image" "site" "defaultVO" "benchmark" -}}
{{- if not (index $acct $key) -}}
{{- fail (printf "accounting.%s is empty; accounting.enabled needs it (docs/accounting.md): set accounting.%s" $key $key) -}}
{{- end -}}
{{- end -}}
{{- if not $acct.ssm.certificateSecret -}}
{{- fail "accounting.ssm.certificateSecret is empty; ssmsend signs with the site's certificate: make a Secret with keys hostcert.pem and hostkey.pem in the batch namespace and name it there" -}}
{{- end -}}
{{- end -}}
{{- end }}
