{{- define "rtbfast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rtbfast.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "rtbfast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rtbfast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rtbfast.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rtbfast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "rtbfast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rtbfast.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rtbfast.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "rtbfast.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "rtbfast.fullname" .)) .Values.tokens.existingSecret }}
{{- end }}

{{- define "rtbfast.enmSecret" -}}
{{- default (printf "%s-enm" (include "rtbfast.fullname" .)) .Values.enm.existingSecret }}
{{- end }}

{{- define "rtbfast.claimName" -}}
{{- default (printf "%s-data" (include "rtbfast.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{- define "rtbfast.hasTokens" -}}
{{- if or .Values.tokens.existingSecret .Values.tokens.json }}true{{- end }}
{{- end }}

{{- define "rtbfast.hasEnm" -}}
{{- if and .Values.enm.url (or .Values.enm.existingSecret .Values.enm.password) }}true{{- end }}
{{- end }}

{{- define "rtbfast.catalogList" -}}
{{- $items := list }}
{{- range .Values.catalogs }}
{{- $items = append $items (printf "%s=%s" .name .path) }}
{{- end }}
{{- join "," $items }}
{{- end }}
